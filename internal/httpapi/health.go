package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/protostar/protostar"
)

// Check probes one dependency.
type Check struct {
	Name     string
	Required bool // when it fails, the process is not ready (503)
	// Local marks a cheap in-process check (draining, consuming), evaluated
	// at every request; the others are probed in the background.
	Local bool
	Probe func(ctx context.Context) error
}

type checkResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

type readiness struct {
	Status string                 `json:"status"` // ok | degraded | unavailable
	Checks map[string]checkResult `json:"checks"`
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// Checker probes the dependencies every interval in a goroutine it owns
// and serves /readyz from the last results. /readyz needs no key, so a
// flood of it must not reach Postgres, Redis and S3 (each probe used to
// run per request, and a flood made readiness fail everywhere).
type Checker struct {
	checks []Check
	every  time.Duration

	mu      sync.Mutex
	results map[string]error // the last probe of each non-local check
	probed  bool

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewChecker returns a checker of checks, probed every interval (default 2s).
func NewChecker(checks []Check, every time.Duration) *Checker {
	return &Checker{checks: checks, every: cmp.Or(every, 2*time.Second)}
}

// Start probes once, then every interval until Stop.
func (c *Checker) Start(ctx context.Context) error {
	c.probe(ctx)
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.probe(ctx)
			}
		}
	}()
	return nil
}

// Stop ends the probing and waits for it; safe to call twice, or without Start.
func (c *Checker) Stop(context.Context) {
	c.stopOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
			<-c.done
		}
	})
}

// probe runs every non-local check concurrently and records the results.
func (c *Checker) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	results := map[string]error{}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, ch := range c.checks {
		if ch.Local {
			continue
		}
		wg.Go(func() {
			err := ch.Probe(ctx)
			mu.Lock()
			defer mu.Unlock()
			results[ch.Name] = err
		})
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results, c.probed = results, true
}

// readiness combines the last probes with the local checks: 200 while the
// required ones (Postgres) pass, "degraded" if an optional one fails, 503
// when a required one fails. Unstarted (in tests), it probes on the spot.
func (c *Checker) readiness(ctx context.Context) (readiness, int) {
	c.mu.Lock()
	probed, last := c.probed, c.results
	c.mu.Unlock()
	if !probed {
		c.probe(ctx)
		c.mu.Lock()
		last = c.results
		c.mu.Unlock()
	}
	res, code := readiness{Status: "ok", Checks: map[string]checkResult{}}, http.StatusOK
	for _, ch := range c.checks {
		err := last[ch.Name]
		if ch.Local {
			err = ch.Probe(ctx)
		}
		if err == nil {
			res.Checks[ch.Name] = checkResult{Status: "ok"}
			continue
		}
		// Client-safe text only: the endpoint needs no key, and driver
		// errors name hosts and users.
		res.Checks[ch.Name] = checkResult{Status: "down", Error: protostar.ErrorMessage(err)}
		if ch.Required {
			code, res.Status = http.StatusServiceUnavailable, "unavailable"
		} else if res.Status == "ok" {
			res.Status = "degraded"
		}
	}
	return res, code
}

func (c *Checker) serveReadyz(w http.ResponseWriter, r *http.Request) {
	res, code := c.readiness(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(res)
}

// handleOps adds the operational routes /healthz, /readyz and /metrics to
// mux.
func handleOps(mux *http.ServeMux, ready *Checker, reg *prometheus.Registry) {
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", ready.serveReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}

// Ops serves only the operational routes, for a process without the API
// (a worker), so that it can be probed and scraped like the API.
func Ops(ready *Checker, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	handleOps(mux, ready, reg)
	return mux
}

// Dependencies returns the last result of each check by name: "" when it
// passed, else its client-safe error. The console's overview shows them.
func (c *Checker) Dependencies(ctx context.Context) map[string]string {
	res, _ := c.readiness(ctx)
	out := make(map[string]string, len(res.Checks))
	for name, r := range res.Checks {
		out[name] = r.Error
		if r.Status != "ok" && r.Error == "" {
			out[name] = r.Status
		}
	}
	return out
}
