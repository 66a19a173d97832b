//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/protostar/protostar/internal/testenv"
)

// The one tenant of the scenarios and its API key.
const (
	tenant = "fault"
	apiKey = "fault-key-0123456789abcdef"
)

// clusterOpts chooses which dependencies a scenario gets as private
// processes it may stop. Redis is always private.
type clusterOpts struct {
	privatePG    bool
	privateMinIO bool
	env          []string // extra PROTOSTAR_* settings for every process
}

// cluster is one scenario's deployment: 2 serve and 3 worker processes on
// one Postgres database, one Redis and one bucket.
type cluster struct {
	t       *testing.T
	logDir  string
	dbURL   string
	db      *pgxpool.Pool
	redis   *testenv.Redis
	pg      *testenv.Postgres
	minio   *testenv.MinIO
	s3      testenv.S3
	env     []string
	serves  []*proc
	workers []*proc
	client  *lbClient
}

func newCluster(t *testing.T, opts clusterOpts) *cluster {
	t.Helper()
	c := &cluster{t: t, redis: testenv.NewRedis(t)}
	dir, err := os.MkdirTemp("", "protostar-faults-"+strings.ReplaceAll(t.Name(), "/", "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	c.logDir = dir
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("FAULTS_KEEP_LOGS") == "1" {
			t.Logf("process logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})

	if opts.privatePG {
		c.pg = testenv.NewPostgres(t)
		c.pg.Start()
		c.dbURL = c.pg.URL()
	} else {
		c.dbURL = testenv.NewDatabase(t)
	}
	if opts.privateMinIO {
		c.minio = testenv.NewMinIO(t)
		c.s3 = c.minio.S3()
	} else {
		c.s3 = testenv.NewS3(t)
	}
	c.env = append(testenv.ProtostarEnv(c.dbURL, c.redis.URL(), c.s3),
		"PROTOSTAR_API_KEYS="+tenant+":"+apiKey,
		"PROTOSTAR_LOG_FORMAT=text",
		"PROTOSTAR_LOG_LEVEL=info",
		"PROTOSTAR_EMBED_DIMENSIONS=64",
		"PROTOSTAR_JOB_STALE_AFTER=10s",
		"PROTOSTAR_DISPATCH_INTERVAL=200ms",
		"PROTOSTAR_DATABASE_MAX_CONNS=6",
		"PROTOSTAR_RATE_LIMIT=500",
		"PROTOSTAR_RATE_BURST=1000",
	)
	c.env = append(c.env, opts.env...)
	c.migrate()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	if c.db, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.db.Close)

	for i := range 2 {
		c.serves = append(c.serves, c.newProc("serve", i))
	}
	for i := range 3 {
		c.workers = append(c.workers, c.newProc("worker", i))
	}
	// Cleanups run last-registered first: stop the processes before the
	// dependencies they use go away.
	t.Cleanup(func() {
		for _, p := range c.procs() {
			p.stopForCleanup(t)
		}
		if t.Failed() {
			for _, p := range c.procs() {
				t.Logf("--- last log lines of %s ---\n%s", p.name, p.tail(40))
			}
		}
	})
	urls := make([]string, len(c.serves))
	for i, p := range c.serves {
		urls[i] = p.url()
	}
	c.client = newLBClient(urls, apiKey)
	for _, p := range c.procs() {
		p.start(t)
	}
	for _, p := range c.procs() {
		p.waitReady(t, 60*time.Second)
	}
	return c
}

func (c *cluster) procs() []*proc { return append(append([]*proc{}, c.serves...), c.workers...) }

func (c *cluster) migrate() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "migrate", "up")
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("migrate up: %v\n%s", err, out)
	}
}

func (c *cluster) newProc(role string, i int) *proc {
	port := testenv.FreePort(c.t)
	name := fmt.Sprintf("%s-%d", role, i)
	return &proc{
		role: role, name: name, port: port,
		env: append(append([]string{}, c.env...), fmt.Sprintf("PROTOSTAR_HTTP_ADDR=127.0.0.1:%d", port),
			fmt.Sprintf("PROTOSTAR_WORKER_HTTP_ADDR=127.0.0.1:%d", port)),
		logPath: filepath.Join(c.logDir, name+".log"),
	}
}

// proc is one protostar process that a scenario can kill, stop and start
// again on the same port, as a service manager would.
type proc struct {
	role, name string
	port       int
	env        []string
	logPath    string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	starts  int
	exitErr error
}

func (p *proc) url() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

// start spawns the process; it does not wait for readiness.
func (p *proc) start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.starts++
	fmt.Fprintf(f, "=== start #%d of %s at %s ===\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, p.role)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		_ = f.Close()
		close(done)
	}()
	p.cmd, p.done, p.exitErr = cmd, done, nil
}

// waitReady waits until the process answers /readyz with 200 (a worker's
// /readyz, on PROTOSTAR_WORKER_HTTP_ADDR, also requires its consumers).
func (p *proc) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	hc := http.Client{Timeout: 2 * time.Second}
	for {
		if p.exited() {
			t.Fatalf("%s exited during start: %v\n%s", p.name, p.exitError(), p.tail(30))
		}
		if resp, err := hc.Get(p.url() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s\n%s", p.name, timeout, p.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) running() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

func (p *proc) exited() bool {
	_, done := p.running()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (p *proc) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

func (p *proc) pid() int {
	cmd, _ := p.running()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	cmd, done := p.running()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// term sends SIGTERM and waits up to timeout for the process to exit. It
// returns how long the exit took and the exit error (nil for status 0).
func (p *proc) term(timeout time.Duration) (time.Duration, error) {
	cmd, done := p.running()
	if cmd == nil {
		return 0, nil
	}
	start := time.Now()
	if testenv.Terminate(cmd.Process, done, timeout) {
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, timeout)
	}
	return time.Since(start), p.exitError()
}

func (p *proc) stopForCleanup(t testing.TB) {
	if p.exited() {
		return
	}
	if _, err := p.term(45 * time.Second); err != nil {
		t.Logf("stop %s: %v", p.name, err)
	}
}

// tail returns the last n lines of the process's log file.
func (p *proc) tail(n int) string {
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// count returns how many log lines of the process contain sub.
func (p *proc) count(sub string) int {
	f, err := os.Open(p.logPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(sub)) {
			n++
		}
	}
	return n
}

// activeJobs counts jobs that are not finished.
func (c *cluster) activeJobs(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')`).Scan(&n)
	return n, err
}

// waitSettled waits until no job is queued or running and every listed
// document has reached ready or failed. It returns how long that took.
func (c *cluster) waitSettled(timeout time.Duration, docIDs []string) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		active, err := c.activeJobs(ctx)
		var pending int
		if err == nil {
			err = c.db.QueryRow(ctx, `SELECT count(*) FROM documents WHERE id = ANY($1::uuid[])
				AND status NOT IN ('ready', 'failed')`, docIDs).Scan(&pending)
		}
		cancel()
		if err == nil && active == 0 && pending == 0 {
			return time.Since(start), nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d jobs active, %d documents pending", active, pending)
		}
		if time.Now().After(deadline) {
			return time.Since(start), fmt.Errorf("not settled after %s: %s", timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// verdict is the state of the data after a scenario settled.
type verdict struct {
	docs, ready   int
	notReady      []string // "id status error" of the first few
	badChunks     int      // documents whose active version's rows ≠ chunk_count, or none
	dupChunks     int      // (document_id, version, ordinal) seen more than once
	activeJobs    int
	jobs, jobsOK  int // of the listed jobs
	jobsNotOK     []string
	retriedJobs   int // jobs that needed more than one attempt
	otherNotReady int // documents in the database, listed or not, that are not ready
	maxAttempts   int
	lost          int      // listed (accepted) jobs missing from the database or never finished
	broken        []string // invariants that do not hold (see invariants)
}

func (v verdict) String() string {
	return fmt.Sprintf("%d/%d ready, %d dup chunks, %d bad chunk counts, %d jobs left running; jobs accepted %d, finished %d, lost %d; %d invariants broken",
		v.ready, v.docs, v.dupChunks, v.badChunks, v.activeJobs, v.jobs, v.jobs-v.lost, v.lost, len(v.broken))
}

// verify checks that every listed document is ready with exactly
// chunk_count unique chunk rows in its active version, that every listed job
// succeeded, and that no job anywhere is still queued or running.
func (c *cluster) verify(docIDs, jobIDs []string) verdict {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v := verdict{docs: len(docIDs), jobs: len(jobIDs)}
	must := func(err error) {
		if err != nil {
			c.t.Fatalf("verify: %v", err)
		}
	}
	rows, err := c.db.Query(ctx, `SELECT id::text, status, error, chunk_count FROM documents
		WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, docIDs)
	must(err)
	for rows.Next() {
		var id, status, msg string
		var chunks int
		must(rows.Scan(&id, &status, &msg, &chunks))
		if status == "ready" && chunks > 0 {
			v.ready++
		} else if len(v.notReady) < 5 {
			v.notReady = append(v.notReady, fmt.Sprintf("%s %s chunks=%d %q", id, status, chunks, msg))
		}
	}
	must(rows.Err())
	must(c.db.QueryRow(ctx, `SELECT count(*) FROM documents d WHERE d.deleted_at IS NULL AND d.indexed_version > 0 AND
		(SELECT count(*) FROM chunks c WHERE c.document_id = d.id AND c.version = d.indexed_version) <> d.chunk_count`).Scan(&v.badChunks))
	must(c.db.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM chunks
		GROUP BY document_id, version, ordinal HAVING count(*) > 1) d`).Scan(&v.dupChunks))
	v.activeJobs, err = c.activeJobs(ctx)
	must(err)
	must(c.db.QueryRow(ctx, `SELECT count(*) FROM documents WHERE deleted_at IS NULL AND status <> 'ready'
		AND NOT id = ANY($1::uuid[])`, docIDs).Scan(&v.otherNotReady))
	must(c.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE attempts > 1), coalesce(max(attempts), 0) FROM jobs`).Scan(&v.retriedJobs, &v.maxAttempts))
	states, err := c.jobStates(ctx, jobIDs)
	must(err)
	for _, id := range jobIDs {
		s, ok := states[id]
		if !ok || s.status == "queued" || s.status == "running" {
			v.lost++
		}
		if ok && s.status == "succeeded" {
			v.jobsOK++
		} else if len(v.jobsNotOK) < 5 {
			v.jobsNotOK = append(v.jobsNotOK, fmt.Sprintf("%s %s attempts=%d %q", id, s.status, s.attempts, s.err))
		}
	}
	v.broken, err = c.checkInvariants(ctx)
	must(err)
	return v
}

// requireClean fails the test with details unless v is clean.
func requireClean(t *testing.T, v verdict) {
	t.Helper()
	if v.ready != v.docs {
		t.Errorf("%d of %d accepted documents are not ready, e.g. %v", v.docs-v.ready, v.docs, v.notReady)
	}
	if v.jobsOK != v.jobs {
		t.Errorf("%d of %d accepted jobs did not succeed, e.g. %v", v.jobs-v.jobsOK, v.jobs, v.jobsNotOK)
	}
	if v.badChunks != 0 || v.dupChunks != 0 {
		t.Errorf("chunks: %d documents with a wrong row count, %d duplicated (document, version, ordinal)", v.badChunks, v.dupChunks)
	}
	if v.activeJobs != 0 {
		t.Errorf("%d jobs are still queued or running", v.activeJobs)
	}
	if v.otherNotReady != 0 {
		t.Errorf("%d documents nobody was told were accepted are in the database and not ready", v.otherNotReady)
	}
	if v.lost != 0 {
		t.Errorf("%d accepted jobs were lost (missing or never finished)", v.lost)
	}
	for _, b := range v.broken {
		t.Errorf("invariant broken: %s", b)
	}
}

// jobStates returns the state of each listed job by id.
func (c *cluster) jobStates(ctx context.Context, jobIDs []string) (map[string]jobState, error) {
	rows, err := c.db.Query(ctx, `SELECT id::text, status, attempts, error FROM jobs WHERE id = ANY($1::uuid[])`, jobIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]jobState, len(jobIDs))
	for rows.Next() {
		var s jobState
		var id string
		if err := rows.Scan(&id, &s.status, &s.attempts, &s.err); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

type jobState struct {
	status   string
	attempts int
	err      string
}

// runningJobs returns the attempts of every job that is running now with a
// live heartbeat (one from the last 5 s; workers beat every 2.5 s).
func (c *cluster) runningJobs(ctx context.Context) (map[string]int, error) {
	rows, err := c.db.Query(ctx, `SELECT id::text, attempts FROM jobs
		WHERE status = 'running' AND heartbeat_at > now() - interval '5 seconds'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int)
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
