package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
	"github.com/protostar/protostar/internal/worker"
)

// setup returns a database with one submitted job and a runner whose
// metrics are registered with reg.
func setup(t *testing.T) (db *postgres.DB, r *worker.Runner, j protostar.Job, reg *prometheus.Registry) {
	t.Helper()
	db = testenv.NewDB(t, 8)
	_, j, err := db.SubmitDocument(context.Background(), protostar.Submission{TenantID: "t1", Key: "a.md", MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	reg = prometheus.NewRegistry()
	return db, worker.NewRunner(slog.New(slog.DiscardHandler), db, worker.RunnerConfig{StaleAfter: 10 * time.Second}, worker.NewMetrics(reg)), j, reg
}

// attempts returns protostar_job_attempts_total by "type/outcome".
func attempts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "protostar_job_attempts_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[labels["type"]+"/"+labels["outcome"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestRunnerOutcomes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	transient := protostar.Errorf(protostar.EUNAVAILABLE, "store down")
	tests := []struct {
		name       string
		task       worker.Task
		runs       int
		wantErr    bool
		wantStatus string
		wantText   string
		wantCounts map[string]float64 // protostar_job_attempts_total
	}{
		{"success", func(ctx context.Context, j protostar.Job, p *worker.Progress) error {
			return nil
		}, 1, false, protostar.JobRunning, "", // the task records success itself
			map[string]float64{"ingest/succeeded": 1}},
		{"transient failure retries", func(context.Context, protostar.Job, *worker.Progress) error {
			return transient
		}, 1, true, protostar.JobQueued, "attempt 1 of 3 failed, retrying: store down",
			map[string]float64{"ingest/retried": 1}},
		{"permanent failure fails at once", func(context.Context, protostar.Job, *worker.Progress) error {
			return protostar.Errorf(protostar.EINVALID, "object is not UTF-8")
		}, 1, false, protostar.JobFailed, "object is not UTF-8",
			map[string]float64{"ingest/failed": 1}},
		{"attempts exhausted", func(context.Context, protostar.Job, *worker.Progress) error {
			return transient
		}, 3, false, protostar.JobFailed, "gave up after 3 attempts: store down",
			map[string]float64{"ingest/retried": 2, "ingest/failed": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, r, j, reg := setup(t)
			ctx := context.Background()
			var err error
			for range tt.runs {
				err = r.Run(ctx, j.ID, tt.task)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run error = %v, want error %v", err, tt.wantErr)
			}
			got, _ := db.JobByID(ctx, j.ID)
			if got.Status != tt.wantStatus || got.Error != tt.wantText || got.Attempts != tt.runs {
				t.Fatalf("job = status %q error %q attempts %d; want %q %q %d", got.Status, got.Error, got.Attempts, tt.wantStatus, tt.wantText, tt.runs)
			}
			if diff := cmp.Diff(tt.wantCounts, attempts(t, reg)); diff != "" {
				t.Errorf("attempt metrics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunnerSkipsFinishedAndHeldJobs(t *testing.T) {
	db, r, j, reg := setup(t)
	ctx := context.Background()
	ran := 0
	task := func(context.Context, protostar.Job, *worker.Progress) error { ran++; return nil }

	if err := r.Run(ctx, j.ID, task); err != nil {
		t.Fatal(err)
	}
	// The job is running with a fresh heartbeat: a second delivery must not
	// run it again.
	if err := r.Run(ctx, j.ID, task); err != nil || ran != 1 {
		t.Fatalf("second delivery: err %v, ran %d times", err, ran)
	}
	if err := db.CancelJob(ctx, j.ID, "finished elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, j.ID, task); err != nil || ran != 1 {
		t.Fatalf("delivery of a finished job: err %v, ran %d times", err, ran)
	}
	if err := r.Run(ctx, "00000000-0000-0000-0000-000000000000", task); err != nil {
		t.Fatalf("unknown job: %v", err)
	}
	// Skipped deliveries run no attempt.
	if got := attempts(t, reg); !cmp.Equal(got, map[string]float64{"ingest/succeeded": 1}) {
		t.Errorf("attempt metrics = %v, want one success", got)
	}
}

func TestRunnerHeartbeatsProgress(t *testing.T) {
	db := testenv.NewDB(t, 8)
	ctx := context.Background()
	_, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t1", Key: "a.md", MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := worker.NewRunner(slog.New(slog.DiscardHandler), db, worker.RunnerConfig{StaleAfter: 400 * time.Millisecond}, nil) // beats every 100ms
	err = r.Run(ctx, j.ID, func(ctx context.Context, _ protostar.Job, p *worker.Progress) error {
		p.Set(7, 10)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			got, _ := db.JobByID(ctx, j.ID)
			if got.Progress.Done == 7 && got.Progress.Total == 10 {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return errors.New("progress never reached the database")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunnerTimeout: an attempt that runs out of time is a failed attempt,
// retried until max_attempts and then failed with an error that names the
// timeout. It used to be treated like a worker shutdown and requeued with
// no attempt limit, so a job longer than the timeout ran forever.
func TestRunnerTimeout(t *testing.T) {
	block := func(ctx context.Context, _ protostar.Job, _ *worker.Progress) error {
		<-ctx.Done()
		return ctx.Err()
	}
	tests := []struct {
		name     string
		timeout  time.Duration // the runner's own (PROTOSTAR_JOB_TIMEOUT)
		deadline time.Duration // the queue's deadline on the delivery's ctx
		wantText string
	}{
		{"runner timeout", 150 * time.Millisecond, time.Minute, "gave up after 3 attempts: attempt 3 ran longer than the job timeout (150ms, PROTOSTAR_JOB_TIMEOUT)"},
		{"queue deadline", 0, 150 * time.Millisecond, "gave up after 3 attempts: attempt 3 ran past its delivery's deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := testenv.NewDB(t, 8)
			ctx := context.Background()
			_, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t1", Key: "a.md", MaxAttempts: 3})
			if err != nil {
				t.Fatal(err)
			}
			r := worker.NewRunner(slog.New(slog.DiscardHandler), db, worker.RunnerConfig{StaleAfter: 10 * time.Second, Timeout: tt.timeout}, nil)
			for range 5 { // the queue may deliver more often than max_attempts
				dctx, cancel := context.WithTimeout(ctx, tt.deadline)
				_ = r.Run(dctx, j.ID, block)
				cancel()
			}
			got, _ := db.JobByID(ctx, j.ID)
			if got.Status != protostar.JobFailed || got.Attempts != 3 || got.Error != tt.wantText {
				t.Fatalf("job = status %q attempts %d error %q; want failed after 3 attempts with %q", got.Status, got.Attempts, got.Error, tt.wantText)
			}
		})
	}
}
