package openai

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"
)

func TestGateWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int // responses, one request at a time
		want     float64
	}{
		{"starts where it is told", nil, 4},
		{"slow start: one wider per success", []int{200, 200}, 6},
		{"never above the maximum", []int{200, 200, 200, 200, 200}, 8},
		{"a 429 halves it", []int{429}, 2},
		{"each round of 429s halves it", []int{200, 200, 200, 200, 429, 429}, 2},
		{"never below one request", []int{429, 429, 429}, 1},
		{"after a 429 a success widens it by 1/window", []int{429, 200}, 2.5},
		{"other failures leave it alone", []int{500, 0, 400}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGate(slog.New(slog.DiscardHandler), Config{RequestsPerSecond: 1000, MaxConcurrency: 8}, "m", 4)
			for _, s := range tt.statuses {
				tk, err := g.acquire(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				tk.done(s, time.Millisecond)
				g.mu.Lock()
				g.heldUntil = time.Time{} // the test does not wait out holds
				g.mu.Unlock()
			}
			if got := g.Window(); got != tt.want {
				t.Errorf("window = %g, want %g", got, tt.want)
			}
		})
	}
}

// TestEmbedHoldsAfter429: once the provider answers 429 with Retry-After,
// no request of the process, the retry nor any other caller's, reaches it
// before the delay has passed, and everything succeeds in the end.
func TestEmbedHoldsAfter429(t *testing.T) {
	t.Parallel()
	const hold = 400 * time.Millisecond
	var throttledAt atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		if n == 0 {
			throttledAt.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After-Ms", "400")
			writeError(w, http.StatusTooManyRequests, "Rate limit reached")
			return
		}
		writeEmbeddings(w, req, 4)
	})
	cfg := f.config()
	cfg.BatchSize = 1
	e, err := NewEmbedder(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(t.Context(), texts(1)); err != nil {
		t.Fatal(err)
	}
	// The retry of the first call went out after the hold; a second
	// caller arriving during another hold waits too.
	embedTogether(t, 2, e, e, e, e)
	checkHeld(t, f, time.Unix(0, throttledAt.Load()).Add(hold-20*time.Millisecond))
}

// TestEmbedConcurrencyBound: however many callers, no more requests than
// MaxConcurrency are in flight at once.
func TestEmbedConcurrencyBound(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		writeEmbeddings(w, req, 4)
	})
	cfg := f.config()
	cfg.MaxConcurrency = 3
	e, err := NewEmbedder(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := e.Embed(t.Context(), texts(2)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 3 {
		t.Errorf("peak requests in flight = %d, want 3", p)
	}
}

// TestEmbedAdaptsToLimit: against a provider that admits 40 requests a
// second, each taking 100 ms, and answers the rest 429 with Retry-After,
// 32 concurrent callers all succeed at the provider's rate, and the
// narrowed window and the holds keep the 429s to a fraction of the
// requests (every caller retrying on its own would draw several per
// request).
func TestEmbedAdaptsToLimit(t *testing.T) {
	t.Parallel()
	// 40 requests a second with a burst of a quarter second's: a token
	// bucket, as providers enforce their per-minute limits.
	limit := rate.NewLimiter(40, 10)
	var throttled atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, req wireRequest) {
		now := time.Now()
		res := limit.ReserveN(now, 1)
		if wait := res.DelayFrom(now); wait > 0 {
			res.CancelAt(now)
			throttled.Add(1)
			w.Header().Set("Retry-After-Ms", strconv.FormatInt(max(wait.Milliseconds(), 1), 10))
			writeError(w, http.StatusTooManyRequests, "Rate limit reached")
			return
		}
		time.Sleep(100 * time.Millisecond)
		writeEmbeddings(w, req, 4)
	})
	cfg := f.config()
	cfg.BatchSize = 1
	cfg.MaxAttempts = 50
	cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	e, err := NewEmbedder(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const callers, each = 32, 3
	start := time.Now()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := e.Embed(t.Context(), texts(each)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ok := callers * each
	elapsed := time.Since(start)
	t.Logf("%d requests in %s, %d answered 429, window %.1f", ok, elapsed.Round(time.Millisecond), throttled.Load(), e.c.gate.Window())
	if elapsed < time.Duration(ok-10)*time.Second/40*9/10 {
		t.Errorf("%d requests in %s: faster than the provider admits", ok, elapsed)
	}
	if n := throttled.Load(); n > int64(ok)/2 {
		t.Errorf("%d responses were 429 for %d requests", n, ok)
	}
	reqs := cfg.Metrics.requests
	if got, want := testutil.ToFloat64(reqs.WithLabelValues("embed-test", "ok")), float64(ok); got != want {
		t.Errorf("metrics count %g ok requests, want %g", got, want)
	}
	if got, want := testutil.ToFloat64(reqs.WithLabelValues("embed-test", "throttled")), float64(throttled.Load()); got != want {
		t.Errorf("metrics count %g throttled requests, want %g", got, want)
	}
	if got := testutil.ToFloat64(cfg.Metrics.window.WithLabelValues("embed-test")); got != e.c.gate.Window() {
		t.Errorf("window gauge %g, gate's window %g", got, e.c.gate.Window())
	}
}

// checkHeld fails the test for every request after the first that reached
// the fake before until.
func checkHeld(t *testing.T, f *fake, until time.Time) {
	t.Helper()
	for i, r := range f.requests()[1:] {
		if early := until.Sub(r.At); early > 0 {
			t.Errorf("request %d went out %s before the 429's hold ended", i+1, early)
		}
	}
}
