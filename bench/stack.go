package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

// API keys of the benchmark's tenants.
const (
	benchTenant = "bench"
	benchKey    = "bench-key-0123456789abcdef"
)

// stackEnv is the local stack as `scripts/stack.sh env` describes it.
type stackEnv struct {
	AdminDB  string // URL of a database the bench may create databases from
	S3       string // host:port
	S3Key    string
	S3Secret string
	S3TLS    bool
	RedisBin string // redis-server for the private Redis
}

func loadStackEnv() (stackEnv, error) {
	e := stackEnv{
		AdminDB: os.Getenv("PROTOSTAR_DATABASE_URL"), S3: os.Getenv("PROTOSTAR_S3_ENDPOINT"),
		S3Key: os.Getenv("PROTOSTAR_S3_ACCESS_KEY"), S3Secret: os.Getenv("PROTOSTAR_S3_SECRET_KEY"),
		S3TLS: os.Getenv("PROTOSTAR_S3_USE_TLS") == "true", RedisBin: os.Getenv("PROTOSTAR_STACK_REDIS_BIN"),
	}
	var missing []string
	for name, v := range map[string]string{"PROTOSTAR_DATABASE_URL": e.AdminDB, "PROTOSTAR_S3_ENDPOINT": e.S3,
		"PROTOSTAR_STACK_REDIS_BIN": e.RedisBin} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("%s not set: run `make bench`, or eval \"$(scripts/stack.sh env)\" first", joinNames(missing))
	}
	return e, nil
}

// harness owns everything the benchmark creates — a temporary directory,
// the protostar binary, a private Redis, a bucket, databases and processes —
// and removes all of it in Close, in reverse order of creation.
type harness struct {
	logger *slog.Logger
	env    stackEnv
	dir    string
	logDir string // where process logs go
	binary string
	redis  *testenv.Redis
	s3     *minio.Client
	bucket string

	mu       sync.Mutex
	cleanups []cleanup
	procs    []*proc
	nprocs   int
}

type cleanup struct {
	what string
	fn   func(context.Context) error
}

func newHarness(ctx context.Context, logger *slog.Logger, logDir string) (_ *harness, err error) {
	env, err := loadStackEnv()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "protostar-bench-")
	if err != nil {
		return nil, err
	}
	h := &harness{logger: logger, env: env, dir: dir, logDir: cmp.Or(logDir, dir)}
	h.onClose("temporary directory", func(context.Context) error { return os.RemoveAll(dir) })
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if h.binary, err = testenv.BuildProtostar(ctx, dir); err != nil {
		return nil, err
	}
	if h.redis, err = h.startRedis(ctx); err != nil {
		return nil, err
	}
	if err := h.makeBucket(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// onClose registers fn to run in Close.
func (h *harness) onClose(what string, fn func(context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups = append(h.cleanups, cleanup{what, fn})
}

// Close stops every process and removes every resource, even after a
// failure or an interrupt; it logs what it could not remove.
func (h *harness) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h.mu.Lock()
	procs, cleanups := h.procs, h.cleanups
	h.procs, h.cleanups = nil, nil
	h.mu.Unlock()
	for _, p := range procs {
		p.Stop()
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		if err := cleanups[i].fn(ctx); err != nil {
			h.logger.Warn("cleanup failed", "what", cleanups[i].what, "error", err)
		}
	}
}

func (h *harness) startRedis(ctx context.Context) (*testenv.Redis, error) {
	r, err := testenv.StartRedis(ctx, h.env.RedisBin, h.dir)
	if err != nil {
		return nil, err
	}
	h.onClose("redis-server", func(context.Context) error {
		r.Kill()
		return nil
	})
	return r, nil
}

func (h *harness) makeBucket(ctx context.Context) error {
	c, err := minio.New(h.env.S3, &minio.Options{Creds: credentials.NewStaticV4(h.env.S3Key, h.env.S3Secret, ""), Secure: h.env.S3TLS})
	if err != nil {
		return fmt.Errorf("minio client: %w", err)
	}
	h.s3, h.bucket = c, testenv.Name("bench-")
	if err := c.MakeBucket(ctx, h.bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("create bucket %s: %w", h.bucket, err)
	}
	h.onClose("bucket "+h.bucket, func(ctx context.Context) error {
		objects := c.ListObjects(ctx, h.bucket, minio.ListObjectsOptions{Recursive: true})
		for e := range c.RemoveObjects(ctx, h.bucket, objects, minio.RemoveObjectsOptions{}) {
			if e.Err != nil {
				return fmt.Errorf("remove %s: %w", e.ObjectName, e.Err)
			}
		}
		return c.RemoveBucket(ctx, h.bucket)
	})
	return nil
}

// database is a fresh, migrated database of the stack's Postgres.
type database struct {
	URL  string
	Name string
	DB   *postgres.DB // pool with pgvector types, 10 connections

	dropOnce sync.Once
	dropFn   func(context.Context) error
	dropErr  error
}

// drop closes the pool and drops the database, once; the harness calls it
// in Close, the growth curve as soon as a point is measured.
func (d *database) drop(ctx context.Context) error {
	d.dropOnce.Do(func() {
		if d.DB != nil {
			d.DB.Close()
		}
		d.dropErr = d.dropFn(ctx)
	})
	return d.dropErr
}

// newDatabase creates and migrates a database, dropped in Close.
func (h *harness) newDatabase(ctx context.Context, dims int) (*database, error) {
	return h.newDatabaseSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: dims})
}

// newDatabaseSpace is newDatabase with initial as its first embedding
// space, the one its processes embed with.
func (h *harness) newDatabaseSpace(ctx context.Context, initial protostar.SpaceSpec) (*database, error) {
	dsn, drop, err := testenv.CreateDatabase(ctx, h.env.AdminDB, "bench_")
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("new database: %w", errors.Join(err, drop(ctx)))
	}
	d := &database{URL: dsn, Name: strings.TrimPrefix(u.Path, "/"), dropFn: drop}
	h.onClose("database "+d.Name, d.drop)
	if d.DB, err = testenv.OpenMigratedSpace(ctx, dsn, initial, 10); err != nil {
		return nil, fmt.Errorf("database %s: %w", d.Name, err)
	}
	return d, nil
}

// exec runs one statement on the database.
func (d *database) exec(ctx context.Context, sql string, args ...any) error {
	if _, err := d.DB.Pool().Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", firstLine(sql), err)
	}
	return nil
}

// reset empties the chunks table (and so its indexes) and checkpoints, so
// that every measured write starts from the same state.
func (d *database) reset(ctx context.Context) error {
	if err := d.exec(ctx, `TRUNCATE chunks, chunk_embeddings`); err != nil {
		return err
	}
	return d.exec(ctx, `CHECKPOINT`)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// proc is a running protostar process.
type proc struct {
	*testenv.Protostar
	role     string
	debugURL string // its pprof listener
}

// start runs `protostar role` against db and Redis logical database
// redisDB, and waits until its /readyz is ok (a worker's, on
// PROTOSTAR_WORKER_HTTP_ADDR, also requires its consumers).
func (h *harness) start(ctx context.Context, role string, db *database, redisDB int, extraEnv ...string) (*proc, error) {
	debugPort, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	s3 := testenv.S3{Endpoint: h.env.S3, AccessKey: h.env.S3Key, SecretKey: h.env.S3Secret, Bucket: h.bucket, TLS: h.env.S3TLS}
	env := append(testenv.ProtostarEnv(db.URL, h.redis.DBURL(redisDB), s3),
		"PROTOSTAR_API_KEYS="+benchTenant+":"+benchKey,
		"PROTOSTAR_DEBUG_ADDR="+fmt.Sprintf("127.0.0.1:%d", debugPort),
		// The API's per-key rate limit protects a shared service from one
		// client; the benchmark is that one client on purpose.
		"PROTOSTAR_RATE_LIMIT=1000000",
		"PROTOSTAR_TENANT_RATE_LIMIT=0",
		"PROTOSTAR_RATE_BURST=1000000",
		// The memory figure streams one document of 128 MiB to 1 GiB, far
		// past the per-document chunk cap and quota a shared service wants.
		"PROTOSTAR_MAX_CHUNKS_PER_DOCUMENT=100000000",
		"PROTOSTAR_TENANT_MAX_CHUNKS=0",
	)
	h.mu.Lock()
	h.nprocs++
	name := fmt.Sprintf("%s-%d", role, h.nprocs)
	h.mu.Unlock()
	ps, err := testenv.NewProtostar(testenv.ProtostarSpec{Binary: h.binary, Role: role, Name: name,
		Env: append(env, extraEnv...), LogDir: h.logDir})
	if err != nil {
		return nil, err
	}
	p := &proc{Protostar: ps, role: role, debugURL: fmt.Sprintf("http://127.0.0.1:%d", debugPort)}
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	if err := p.StartReady(ctx, 60*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// Stop sends SIGTERM and waits for a graceful exit, killing the process
// after 40s. Safe to call twice.
func (p *proc) Stop() { _, _ = p.Protostar.Stop(40 * time.Second) }

// memory returns the process's peak and current resident set size in
// bytes (VmHWM and VmRSS of /proc/PID/status).
func (p *proc) memory() (hwm, rss int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of protostar %s: %w", p.role, err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s %q: %w", name, val, err)
		}
		if name == "VmHWM" {
			hwm = kb * kib
		} else {
			rss = kb * kib
		}
	}
	if hwm == 0 {
		return 0, 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.Pid())
	}
	return hwm, rss, nil
}
