package queue_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/queue"
	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/testenv"
)

func TestEnqueueDeliversOncePerDispatch(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction(testenv.ReaperFunc))
	rs := testenv.NewRedis(t)
	rc, err := redis.NewClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var (
		mu  sync.Mutex
		got []string
	)
	srv := queue.NewServer(slog.New(slog.DiscardHandler), rc, queue.ServerConfig{
		Concurrency: 2, PollInterval: 10 * time.Millisecond, ShutdownWait: time.Second,
		Queues: map[string]int{queue.QueueIngest: 1, queue.QueueSummary: 1},
	}, map[string]queue.HandlerFunc{
		protostar.JobIngest: func(_ context.Context, id string) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, id)
			return nil
		},
	})
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	c := queue.NewClient(rc, 3, time.Minute)
	j := protostar.Job{ID: "job-1", Type: protostar.JobIngest}
	for range 3 { // the same dispatch delivered three times is one task
		if err := c.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	j.Dispatches = 1 // a re-dispatch of a lost job goes through
	if err := c.Enqueue(ctx, j); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "redelivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("deliveries = %v, want exactly 2", got)
	}
}

func TestEnqueueWithRedisDownFailsFast(t *testing.T) {
	rs := testenv.NewRedis(t)
	rc, err := redis.NewClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rs.Kill()
	start := time.Now()
	err = queue.NewClient(rc, 3, time.Minute).Enqueue(context.Background(), protostar.Job{ID: "x", Type: protostar.JobIngest})
	if protostar.ErrorCode(err) != protostar.EUNAVAILABLE {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("enqueue with redis down took %s", d)
	}
}
