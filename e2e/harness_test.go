// Package e2e tests protostar as its users run it: the real binary as
// separate OS processes against the real Postgres, Redis and MinIO of
// `make test`, each test with its own database, Redis server and bucket.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

const (
	keyA = "acme-key-0123456789abcdef"
	keyB = "beta-key-0123456789abcdef"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "protostar-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binary, err = testenv.BuildProtostar(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one test's isolated slice of the real infrastructure.
type stack struct {
	t     *testing.T
	Redis *testenv.Redis
	DBURL string
	S3    testenv.S3
	extra []string
}

func newStack(t *testing.T, extraEnv ...string) *stack {
	t.Helper()
	s := &stack{t: t, Redis: testenv.NewRedis(t), DBURL: testenv.NewDatabase(t), S3: testenv.NewS3(t), extra: extraEnv}
	s.migrate()
	return s
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
		"PROTOSTAR_RATE_BURST=1000",
	)
	return append(env, s.extra...)
}

func (s *stack) migrate() {
	s.t.Helper()
	cmd := exec.Command(binary, "migrate", "up")
	cmd.Env = s.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("migrate up: %v\n%s", err, out)
	}
}

// proc is a running protostar process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	URL  string
	logs *syncBuffer
	done chan struct{}
}

// start runs `protostar role` and waits until its /readyz says ok: the
// API's, or for a worker that of its PROTOSTAR_WORKER_HTTP_ADDR listener,
// which is ok once the workers consume the queue.
func (s *stack) start(role string, extraEnv ...string) *proc {
	s.t.Helper()
	p := s.spawn(role, extraEnv...)
	testenv.WaitFor(s.t, 30*time.Second, "protostar "+role+" /readyz", func() bool {
		if p.exited() {
			s.t.Fatalf("protostar %s exited early:\n%s", role, p.logs.String())
		}
		code, body := p.get("/readyz", "")
		return code == http.StatusOK && strings.Contains(string(body), `"status":"ok"`)
	})
	return p
}

// spawn runs `protostar role` without waiting for it.
func (s *stack) spawn(role string, extraEnv ...string) *proc {
	s.t.Helper()
	port := testenv.FreePort(s.t)
	p := &proc{t: s.t, URL: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, role)
	addrVar := "PROTOSTAR_HTTP_ADDR"
	if role == "worker" {
		addrVar = "PROTOSTAR_WORKER_HTTP_ADDR" // health and metrics only
	}
	p.cmd.Env = append(append(s.env(), fmt.Sprintf("%s=127.0.0.1:%d", addrVar, port)), extraEnv...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", role, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() {
		p.Stop()
		if s.t.Failed() {
			s.t.Logf("--- logs of protostar %s (pid %d) ---\n%s", role, p.cmd.Process.Pid, p.logs.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits for a graceful exit.
func (p *proc) Stop() {
	if p.exited() {
		return
	}
	if testenv.Terminate(p.cmd.Process, p.done, 40*time.Second) {
		p.t.Errorf("protostar did not stop within 40s of SIGTERM")
	}
}

// Kill sends SIGKILL and waits for the process to die.
func (p *proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

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

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Contains(sub string) bool { return strings.Contains(s.String(), sub) }
