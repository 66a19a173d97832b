package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/worker"
)

// takeOver does to a running job what the outbox and a second worker do
// when its worker stops heart-beating (it paused, was starved or cut off):
// the job is recovered and claimed by a new attempt.
func takeOver(t *testing.T, db *postgres.DB, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReapStale(ctx, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if j, err := db.StartJob(ctx, id, time.Minute); err != nil || j.Attempts != 2 {
		t.Fatalf("second attempt could not claim the job: %+v %v", j, err)
	}
}

// An attempt whose job was taken over must stop, and must not touch the job
// the new attempt holds: a stale worker that requeued it would let a third
// attempt run alongside the second, each deleting the other's chunk rows.
func TestRunnerStaleAttemptStopsAndKeepsOff(t *testing.T) {
	tests := []struct {
		name string
		task func(t *testing.T, db *postgres.DB) worker.Task
	}{
		{"heartbeat notices and cancels", func(t *testing.T, db *postgres.DB) worker.Task {
			return func(ctx context.Context, j protostar.Job, _ *worker.Progress) error {
				takeOver(t, db, j.ID)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Second):
					return errors.New("the stale attempt was not stopped")
				}
			}
		}},
		{"failure before the next heartbeat", func(t *testing.T, db *postgres.DB) worker.Task {
			return func(ctx context.Context, j protostar.Job, _ *worker.Progress) error {
				takeOver(t, db, j.ID)
				return protostar.Errorf(protostar.ECONFLICT, "chunk rows already exist")
			}
		}},
		{"final failure before the next heartbeat", func(t *testing.T, db *postgres.DB) worker.Task {
			return func(ctx context.Context, j protostar.Job, _ *worker.Progress) error {
				takeOver(t, db, j.ID)
				return protostar.Errorf(protostar.EINVALID, "object is not UTF-8")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _, j, _ := setup(t)
			r := worker.NewRunner(slog.New(slog.DiscardHandler), db, worker.RunnerConfig{StaleAfter: 400 * time.Millisecond}, nil) // beats every 100ms
			_ = r.Run(context.Background(), j.ID, tt.task(t, db))
			got, err := db.JobByID(context.Background(), j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != protostar.JobRunning || got.Attempts != 2 {
				t.Fatalf("job after the stale attempt ended = status %s, attempts %d, error %q; want the second attempt's claim untouched",
					got.Status, got.Attempts, got.Error)
			}
		})
	}
}
