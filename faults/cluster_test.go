//go:build faults

package faults

import (
	"context"
	"fmt"
	"os"
	"strings"
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
		"PROTOSTAR_TENANT_RATE_LIMIT=0",
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
	// Each process is stopped when the test ends (testenv.Track), before
	// the dependencies registered earlier go away, and shows the end of its
	// log if the test failed.
	urls := make([]string, len(c.serves))
	for i, p := range c.serves {
		urls[i] = p.URL
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

// pids is each process's pid by name, to tell later whether it restarted.
func (c *cluster) pids() map[string]int {
	pids := map[string]int{}
	for _, p := range c.procs() {
		pids[p.name] = p.Pid()
	}
	return pids
}

// restartedSince fails the test for every process that exited or runs
// under another pid than in pids, and returns how many did; during says
// when, for the message.
func (c *cluster) restartedSince(t *testing.T, pids map[string]int, during string) int {
	t.Helper()
	n := 0
	for _, p := range c.procs() {
		if p.Exited() || p.Pid() != pids[p.name] {
			n++
			t.Errorf("%s exited or was restarted %s: %v", p.name, during, p.ExitErr())
		}
	}
	return n
}

func (c *cluster) procs() []*proc { return append(append([]*proc{}, c.serves...), c.workers...) }

func (c *cluster) migrate() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := testenv.Migrate(ctx, binary, c.env); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) newProc(role string, i int) *proc {
	c.t.Helper()
	name := fmt.Sprintf("%s-%d", role, i)
	ps, err := testenv.NewProtostar(testenv.ProtostarSpec{Binary: binary, Role: role, Name: name, Env: c.env, LogDir: c.logDir})
	if err != nil {
		c.t.Fatal(err)
	}
	testenv.Track(c.t, ps.Process)
	return &proc{Protostar: ps, name: name}
}

// proc is one protostar process that a scenario can kill, stop and start
// again on the same port, as a service manager would.
type proc struct {
	*testenv.Protostar
	name string
}

// start spawns the process; it does not wait for readiness.
func (p *proc) start(t testing.TB) {
	t.Helper()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits until the process answers /readyz with status ok (a
// worker's /readyz, on PROTOSTAR_WORKER_HTTP_ADDR, also requires its
// consumers).
func (p *proc) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := p.WaitReady(context.Background(), timeout); err != nil {
		t.Fatal(err)
	}
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
