package outbox_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/outbox"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/queue"
	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/testenv"
)

// setup returns a database, a Redis server and a client of it, and an
// outbox over them that polls every 50 ms with the given stale window.
func setup(t *testing.T, staleAfter time.Duration) (*postgres.DB, *testenv.Redis, *goredis.Client, *outbox.Outbox) {
	t.Helper()
	db := testenv.NewDB(t, 8)
	rs := testenv.NewRedis(t)
	rc, err := redis.NewClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	ob := outbox.New(slog.New(slog.DiscardHandler), db, queue.NewClient(rc, 3, time.Minute), &deletions{},
		outbox.Config{Interval: 50 * time.Millisecond, StaleAfter: staleAfter})
	return db, rs, rc, ob
}

func TestOutboxHoldsJobsWhileQueueIsDown(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction(testenv.ReaperFunc))
	db, rs, rc, ob := setup(t, 10*time.Second)
	ctx := context.Background()

	rs.Kill()
	_, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t1", Key: "a.md", MaxAttempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	ob.Dispatch(ctx, j) // fast path fails quietly
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ob.Stop()
	testenv.WaitFor(t, 10*time.Second, "the job to say it waits for the queue", func() bool {
		got, _ := db.JobByID(ctx, j.ID)
		return got.DispatchedAt == nil && strings.HasPrefix(got.Error, "waiting for the queue")
	})

	rs.Restart(t)
	testenv.WaitFor(t, 15*time.Second, "dispatch after redis returned", func() bool {
		got, _ := db.JobByID(ctx, j.ID)
		return got.DispatchedAt != nil && got.Error == ""
	})
	n, err := rc.LLen(ctx, "asynq:{ingest}:pending").Result()
	if err != nil || n != 1 {
		t.Fatalf("pending tasks in redis = %d, %v; want 1", n, err)
	}
	ob.Stop()
	ob.Stop() // safe twice
}

func TestReapStaleRequeuesAndFails(t *testing.T) {
	db := testenv.NewDB(t, 8)
	ctx := context.Background()
	_, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t1", Key: "a.md", MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if _, err := db.StartJob(ctx, j.ID, time.Hour); err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if _, err := db.Pool().Exec(ctx, `UPDATE jobs SET heartbeat_at = now() - interval '1 minute' WHERE id = $1`, j.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ReapStale(ctx, 10*time.Second, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, _ := db.JobByID(ctx, j.ID)
		want := protostar.JobQueued
		if attempt == 2 {
			want = protostar.JobFailed
		}
		if got.Status != want {
			t.Fatalf("after dead attempt %d: status %s (%s), want %s", attempt, got.Status, got.Error, want)
		}
	}
	d, err := db.Document(ctx, "t1", j.DocumentID)
	if err != nil || d.Status != protostar.DocumentFailed || !strings.Contains(d.Error, "worker lost") {
		t.Fatalf("document after lost job = %+v, %v", d, err)
	}
}

// TestOutboxResendsWhatRedisLost: after a Redis data loss (FLUSHALL; a
// restart without AOF looks the same) a dispatched, not yet started job is
// sent again within the stale window. It used to wait for LostAfter (15
// minutes) or, once asynq had archived it, to be lost.
func TestOutboxResendsWhatRedisLost(t *testing.T) {
	db, _, rc, ob := setup(t, 600*time.Millisecond)
	ctx := context.Background()
	_, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t1", Key: "a.md", MaxAttempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	ob.Dispatch(ctx, j)
	if got, _ := db.JobByID(ctx, j.ID); got.DispatchedAt == nil {
		t.Fatal("not dispatched")
	}
	if err := rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ob.Stop()
	// The task reaches Redis before the dispatch that sent it commits, so
	// wait for both.
	testenv.WaitFor(t, 10*time.Second, "the lost job in Redis again, its dispatch recorded", func() bool {
		n, err := rc.LLen(ctx, "asynq:{ingest}:pending").Result()
		got, _ := db.JobByID(ctx, j.ID)
		return err == nil && n == 1 && got.Dispatches >= 2
	})
	time.Sleep(300 * time.Millisecond)
	if got, _ := db.JobByID(ctx, j.ID); got.Dispatches != 2 {
		t.Fatalf("dispatches = %d, want 2 (sent again once)", got.Dispatches)
	}
}
