// Package e2e tests protostar as its users run it: the real binary as
// separate OS processes against the real Postgres, Redis and MinIO of
// `make test`, each test with its own database, Redis server and bucket.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/protostar/protostar/internal/s3"
	"github.com/protostar/protostar/internal/testenv"
)

const (
	keyA = "acme-key-0123456789abcdef"
	keyB = "beta-key-0123456789abcdef"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithProtostar(m, &binary, "")) }

// stack is one test's isolated slice of the real infrastructure.
type stack struct {
	t      *testing.T
	Redis  *testenv.Redis
	DBURL  string
	S3     testenv.S3
	extra  []string
	logDir string
	procs  int
}

func newStack(t *testing.T, extraEnv ...string) *stack {
	t.Helper()
	s := &stack{t: t, Redis: testenv.NewRedis(t), DBURL: testenv.NewDatabase(t), S3: testenv.NewS3(t), extra: extraEnv,
		logDir: t.TempDir()}
	s.migrate()
	return s
}

// waitChunks waits until a worker has written some of the document's
// chunks: it is mid-job.
func (s *stack) waitChunks(documentID string) {
	s.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close(ctx)
	testenv.WaitFor(s.t, 60*time.Second, "the worker to write chunks", func() bool {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1`, documentID).Scan(&n)
		return err == nil && n > 0
	})
}

func (s *stack) migrate() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := testenv.Migrate(ctx, binary, s.env()); err != nil {
		s.t.Fatal(err)
	}
}

// objects returns a client of the test's bucket, to check what protostar
// stored or to write objects as a producer would.
func (s *stack) objects() *s3.Store {
	s.t.Helper()
	store, err := s3.New(slog.New(slog.DiscardHandler), s3.Config{Endpoint: s.S3.Endpoint, AccessKey: s.S3.AccessKey,
		SecretKey: s.S3.SecretKey, Bucket: s.S3.Bucket, UseTLS: s.S3.TLS})
	if err != nil {
		s.t.Fatal(err)
	}
	return store
}

func (s *stack) env() []string {
	env := append(testenv.ProtostarEnv(s.DBURL, s.Redis.URL(), s.S3),
		"PROTOSTAR_API_KEYS=acme:"+keyA+",beta:"+keyB,
		"PROTOSTAR_LOG_FORMAT=text",
		"PROTOSTAR_LOG_LEVEL=debug",
		"PROTOSTAR_EMBED_DIMENSIONS=64",
		"PROTOSTAR_JOB_STALE_AFTER=10s",
		"PROTOSTAR_DATABASE_MAX_CONNS=8",
		"PROTOSTAR_RATE_LIMIT=1000",
		"PROTOSTAR_TENANT_RATE_LIMIT=0",
		"PROTOSTAR_RATE_BURST=1000",
	)
	return append(env, s.extra...)
}

// proc is a protostar process of the test.
type proc struct {
	*testenv.Protostar
	t *testing.T
}

// start runs `protostar role` and waits until its /readyz says ok: the
// API's, or for a worker that of its PROTOSTAR_WORKER_HTTP_ADDR listener,
// which is ok once the workers consume the queue.
func (s *stack) start(role string, extraEnv ...string) *proc {
	s.t.Helper()
	p := s.spawn(role, extraEnv...)
	if err := p.WaitReady(context.Background(), 30*time.Second); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// spawn runs `protostar role` without waiting for it; it is stopped when
// the test ends.
func (s *stack) spawn(role string, extraEnv ...string) *proc {
	s.t.Helper()
	s.procs++
	ps, err := testenv.NewProtostar(testenv.ProtostarSpec{Binary: binary, Role: role,
		Name: fmt.Sprintf("%s-%d", role, s.procs), Env: append(s.env(), extraEnv...), LogDir: s.logDir})
	if err != nil {
		s.t.Fatal(err)
	}
	testenv.Track(s.t, ps.Process)
	if err := ps.Start(); err != nil {
		s.t.Fatal(err)
	}
	return &proc{Protostar: ps, t: s.t}
}

// Stop sends SIGTERM and waits for a graceful exit.
func (p *proc) Stop() {
	p.t.Helper()
	if _, err := p.Protostar.Stop(40 * time.Second); errors.Is(err, testenv.ErrKilled) {
		p.t.Error(err)
	}
}

// logged reports whether the process's output contains sub.
func (p *proc) logged(sub string) bool { return strings.Contains(p.Logs(), sub) }

func (p *proc) get(path, key string) (int, []byte) {
	return p.do(http.MethodGet, path, key, nil)
}

// do sends a request with an optional JSON body and bearer key.
func (p *proc) do(method, path, key string, body any) (int, []byte) {
	p.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			p.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	return p.raw(method, path, key, "application/json", r)
}

func (p *proc) raw(method, path, key, contentType string, body io.Reader) (int, []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.URL+path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// decode unmarshals a JSON answer or fails the test.
func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, truncate(raw), err)
	}
	return v
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
