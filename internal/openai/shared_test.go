package openai

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/testenv"
)

// setupShared returns two embedders, as two worker processes would have,
// that share their limits through one real Redis (a private server per
// test), both pointed at the fake with cfg's settings.
func setupShared(t *testing.T, f *fake, edit func(*Config)) (a, b *Embedder, r *testenv.Redis) {
	t.Helper()
	r = testenv.NewRedis(t)
	embedder := func() *Embedder {
		client, err := redis.NewClient(r.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		cfg := f.config()
		cfg.BatchSize = 1
		cfg.Shared = redis.NewRateLimiter(client, "protostar:provider:")
		edit(&cfg)
		e, err := NewEmbedder(testLogger(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return embedder(), embedder(), r
}

// TestSharedHold: a 429 with Retry-After received by one process holds the
// other's requests too.
func TestSharedHold(t *testing.T) {
	t.Parallel()
	const hold = 600 * time.Millisecond
	var throttledAt atomic.Int64
	throttled := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		if n == 0 {
			throttledAt.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After-Ms", "600")
			writeError(w, http.StatusTooManyRequests, "Rate limit reached")
			close(throttled)
			return
		}
		writeEmbeddings(w, req, 4)
	})
	a, b, _ := setupShared(t, f, func(*Config) {})
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := a.Embed(t.Context(), texts(1)); err != nil {
			t.Error(err)
		}
	})
	<-throttled
	time.Sleep(50 * time.Millisecond) // a's hold reaches Redis
	if _, err := b.Embed(t.Context(), texts(1)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	checkHeld(t, f, time.Unix(0, throttledAt.Load()).Add(hold-30*time.Millisecond))
	if w := b.c.gate.Window(); w >= initialEmbedWindow {
		t.Errorf("the other process's window = %g, want it halved from %d by the shared 429", w, initialEmbedWindow)
	}
}

// TestSharedRate: two processes configured with 20 requests a second send
// 20 a second together, not 40.
func TestSharedRate(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		writeEmbeddings(w, req, 4)
	})
	a, b, _ := setupShared(t, f, func(c *Config) { c.RequestsPerSecond = 20 })
	// 30 requests at 20/s: 29 intervals of 50 ms. Per process it would
	// be 14 intervals.
	if elapsed := embedTogether(t, 15, a, b); elapsed < 1300*time.Millisecond {
		t.Errorf("30 requests took %s, want at least 1.3 s at a shared 20/s", elapsed)
	}
}

// TestSharedFallback: while Redis is down each process limits on its own,
// and requests keep succeeding.
func TestSharedFallback(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		writeEmbeddings(w, req, 4)
	})
	a, b, r := setupShared(t, f, func(c *Config) { c.RequestsPerSecond = 20 })
	r.Kill()
	const each = 20
	elapsed := embedTogether(t, each, a, b)
	// Per process: 19 intervals of 50 ms each, plus the first failed
	// Redis calls; a shared bucket would take twice as long.
	if elapsed < 900*time.Millisecond || elapsed > 1600*time.Millisecond {
		t.Errorf("40 requests took %s with Redis down, want about 1 s (20/s per process)", elapsed)
	}
	if n := len(f.requests()); n != 2*each {
		t.Errorf("%d requests reached the provider, want %d", n, 2*each)
	}
}

// embedTogether has every embedder embed n texts, one request each, all at
// once, and returns how long they took together.
func embedTogether(t *testing.T, n int, es ...*Embedder) time.Duration {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Go(func() {
			if _, err := e.Embed(t.Context(), texts(n)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
