//go:build faults

package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithProtostar(m, &binary, "FAULTS_BINARY")) }

// scale sizes the scenarios: "full" for `make test-faults`, "short" for
// the CI variant that `make test` runs.
type scale struct {
	name string

	killDocs, kills int // 1. worker SIGKILL

	redisDocs   int // 2. Redis outage
	redisOutage time.Duration

	pgDocs   int // 3. Postgres restart
	pgOutage time.Duration

	minioRetryDocs, minioFailDocs int // 4. MinIO outage

	deployPostRate, deploySearchRate float64 // 5. graceful deploy
	deployPause                      time.Duration

	loadFor                      time.Duration // 6. sustained load
	loadPostRate, loadSearchRate float64

	freezeDocs, freezes int // 7. worker freeze

	churnDocs, churnRounds int // 9. edit churn

	pgLongDocs int // 12. Postgres down longer than the stale window
	oomDocs    int // 13. Redis at maxmemory
	objectDocs int // 15. object changed under the job, per case

	lead        time.Duration // traffic before a fault, and (redis, 2× postgres) after it
	sections    int           // sections per document (about 350 bytes each)
	bigSections int           // for scenarios 1–3 and 5: jobs long enough that faults land mid-job
}

func loadScale(t *testing.T) scale {
	switch s := os.Getenv("FAULTS_SCALE"); s {
	case "", "full":
		return scale{name: "full",
			killDocs: 300, kills: 12,
			redisDocs: 150, redisOutage: 30 * time.Second,
			pgDocs: 90, pgOutage: 5 * time.Second,
			minioRetryDocs: 30, minioFailDocs: 15,
			deployPostRate: 4, deploySearchRate: 16, deployPause: 3 * time.Second,
			loadFor: 2 * time.Minute, loadPostRate: 4, loadSearchRate: 20,
			freezeDocs: 60, freezes: 3,
			churnDocs: 24, churnRounds: 6,
			pgLongDocs: 24, oomDocs: 60, objectDocs: 8,
			lead: 5 * time.Second, sections: 24, bigSections: 150,
		}
	case "short":
		return scale{name: "short",
			killDocs: 45, kills: 3,
			redisDocs: 30, redisOutage: 10 * time.Second,
			pgDocs: 30, pgOutage: 3 * time.Second,
			minioRetryDocs: 10, minioFailDocs: 5,
			deployPostRate: 3, deploySearchRate: 6, deployPause: time.Second,
			loadFor: 30 * time.Second, loadPostRate: 2, loadSearchRate: 10,
			freezeDocs: 20, freezes: 1,
			churnDocs: 10, churnRounds: 4,
			pgLongDocs: 8, oomDocs: 20, objectDocs: 4,
			lead: 3 * time.Second, sections: 16, bigSections: 100,
		}
	default:
		t.Fatalf("FAULTS_SCALE=%q: want full or short", s)
		return scale{}
	}
}

// seed makes the random choices (which worker, when) reproducible with
// FAULTS_SEED.
func seed(t *testing.T) uint64 {
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FAULTS_SEED: %v", err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

type scenario struct {
	name, title string
	run         func(t *testing.T, sc scale, rnd *rand.Rand, fig *figure)
}

// figure is what a scenario reports: one line for the table.
type figure struct {
	mu    sync.Mutex
	parts []string
}

func (f *figure) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parts = append(f.parts, fmt.Sprintf(format, args...))
}

func (f *figure) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.parts, "; ")
}

type row struct {
	scenario, figure string
	pass             bool
	took             time.Duration
}

// TestFaults runs every scenario in order on fresh deployments and ends
// with the table. Run one with -run 'TestFaults/WorkerKill'.
func TestFaults(t *testing.T) {
	sc := loadScale(t)
	sd := seed(t)
	t.Logf("fault suite: scale %s, seed %d (FAULTS_SEED=%d reproduces the random choices)", sc.name, sd, sd)
	scenarios := []scenario{
		{"WorkerKill", "1. Worker SIGKILL", scenarioWorkerKill},
		{"RedisOutage", "2. Redis outage", scenarioRedisOutage},
		{"PostgresRestart", "3. Postgres restart", scenarioPostgresRestart},
		{"MinIOOutage", "4. MinIO outage", scenarioMinIOOutage},
		{"GracefulDeploy", "5. Graceful deploy", scenarioGracefulDeploy},
		{"SustainedLoad", "6. Sustained load", scenarioSustainedLoad},
		{"WorkerFreeze", "7. Worker freeze (extra)", scenarioWorkerFreeze},
		{"RedisDataLoss", "8. Redis data loss (FLUSHALL)", scenarioRedisDataLoss},
		{"EditChurn", "9. Edit churn under purge and kills", scenarioEditChurn},
		{"JobTimeout", "10. Job longer than PROTOSTAR_JOB_TIMEOUT", scenarioJobTimeout},
		{"LongJobSIGTERM", "11. SIGTERM during a job longer than the shutdown budget", scenarioLongJobSIGTERM},
		{"PostgresLongOutage", "12. Postgres down longer than the stale window, workers alive", scenarioPostgresLongOutage},
		{"RedisMaxmemory", "13. Redis at maxmemory", scenarioRedisMaxmemory},
		{"RedisRestartEmpty", "14. Redis restarted without its data", scenarioRedisRestartEmpty},
		{"ObjectChanged", "15. Object changed under the job", scenarioObjectChanged},
	}
	var rows []row
	start := time.Now()
	for i, s := range scenarios {
		rnd := rand.New(rand.NewPCG(sd, uint64(i)))
		var fig figure
		began := time.Now()
		ran := false
		ok := t.Run(s.name, func(t *testing.T) {
			ran = true
			defer func() { t.Logf("FIGURE %s: %s", s.title, fig.String()) }()
			s.run(t, sc, rnd, &fig)
		})
		if ran {
			rows = append(rows, row{s.title, fig.String(), ok, time.Since(began).Round(time.Second)})
		}
	}
	if len(rows) == 0 {
		return
	}
	table := renderTable(rows)
	fmt.Printf("\nFault suite (%s scale, seed %d, %s):\n\n%s\n", sc.name, sd, time.Since(start).Round(time.Second), table)
	if path := os.Getenv("FAULTS_REPORT"); path != "" {
		report := fmt.Sprintf("Run: %s scale, %s, seed %d, suite time %s.\n\nMachine: %s.\n\n%s",
			sc.name, time.Now().Format("2006-01-02 15:04 MST"), sd, time.Since(start).Round(time.Second), machine(), table)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Error(err)
		} else if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Error(err)
		} else {
			fmt.Printf("report written to %s\n", path)
		}
	}
}

func renderTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| Scenario | Figure | Result | Time |\n|---|---|---|---|\n")
	for _, r := range rows {
		res := "PASS"
		if !r.pass {
			res = "FAIL"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.scenario, strings.ReplaceAll(r.figure, "|", "/"), res, r.took)
	}
	return b.String()
}

// machine describes the host: CPUs, memory, kernel and Go version.
func machine() string {
	mem := "unknown memory"
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					mem = fmt.Sprintf("%.1f GiB RAM", kb/(1<<20))
				}
			}
		}
	}
	kernel := ""
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(raw))
	}
	return fmt.Sprintf("nproc %d, %s%s, %s %s/%s", runtime.NumCPU(), mem, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
