package outbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/outbox"
)

// fakeStore hands out whatever jobs the test queued, or fails like a
// database that is down.
type fakeStore struct {
	mu     sync.Mutex
	jobs   []protostar.Job
	dbDown bool
	rounds int
}

func (s *fakeStore) DispatchPending(ctx context.Context, limit int, send func(context.Context, protostar.Job) error) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds++
	if s.dbDown {
		return 0, &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "database unavailable"}
	}
	sent := 0
	for len(s.jobs) > 0 {
		if err := send(ctx, s.jobs[0]); err != nil {
			return sent, err
		}
		s.jobs, sent = s.jobs[1:], sent+1
	}
	return sent, nil
}

func (s *fakeStore) MarkDispatched(context.Context, string) error { return nil }
func (s *fakeStore) ReapStale(context.Context, time.Duration, time.Duration) (int64, error) {
	return 0, nil
}
func (s *fakeStore) PurgeStale(context.Context, int) (int64, error) { return 0, nil }
func (s *fakeStore) FoldTermStats(context.Context) (int, error)     { return 0, nil }
func (s *fakeStore) DispatchedQueued(context.Context, time.Duration, int) ([]protostar.Job, error) {
	return nil, nil
}
func (s *fakeStore) Redispatch(context.Context, string, int, string) error { return nil }
func (s *fakeStore) PendingObjectRemovals(context.Context, int) ([]protostar.ObjectRemoval, error) {
	return nil, nil
}
func (s *fakeStore) ObjectsRemoved(context.Context, string) error { return nil }

func (s *fakeStore) WithKeyLock(ctx context.Context, _, _ string, fn func(context.Context, bool) error) error {
	return fn(ctx, false)
}

func (s *fakeStore) set(f func(s *fakeStore)) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
	return s.rounds
}

type downQueue struct{}

func (downQueue) Enqueue(context.Context, protostar.Job) error {
	return &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "queue unavailable"}
}

func (downQueue) Lost(context.Context, protostar.Job) (bool, error) {
	return false, &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "queue unavailable"}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// The outbox logs the queue's state changes once each, judging only from
// sends: rounds with nothing to send, or that fail in Postgres, must not
// flip it (they did: an outage logged "reachable again" on every idle
// round, and a Postgres outage was reported as the queue being down).
func TestOutboxQueueHealthComesFromSendsOnly(t *testing.T) {
	var logs syncBuf
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	store := &fakeStore{jobs: []protostar.Job{{ID: "j1", Type: protostar.JobIngest}}}
	ob := outbox.New(logger, store, downQueue{}, nil, outbox.Config{Interval: 10 * time.Millisecond, StaleAfter: time.Hour})
	if err := ob.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ob.Stop()
	waitRounds := func(n int) {
		t.Helper()
		start := store.set(func(*fakeStore) {})
		deadline := time.Now().Add(5 * time.Second)
		for store.set(func(*fakeStore) {}) < start+n {
			if time.Now().After(deadline) {
				t.Fatal("outbox loop did not run")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitRounds(5) // the job fails to send on every round
	store.set(func(s *fakeStore) { s.jobs = nil })
	waitRounds(5) // nothing to send
	store.set(func(s *fakeStore) { s.dbDown = true })
	waitRounds(5) // Postgres down
	ob.Stop()

	out := logs.String()
	if n := strings.Count(out, "queue unreachable"); n != 1 {
		t.Errorf("queue unreachable logged %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "reachable again") {
		t.Errorf("queue reported reachable again while it never was:\n%s", out)
	}
}
