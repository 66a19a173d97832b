package httpapi

import (
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
	Probe    func(ctx context.Context) error
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

// readyz probes every dependency concurrently: 200 while the required ones
// (Postgres) answer, with "degraded" if an optional one is down; 503 when a
// required one is down.
func readyz(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		res := readiness{Status: "ok", Checks: map[string]checkResult{}}
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		code := http.StatusOK
		for _, c := range checks {
			wg.Go(func() {
				err := c.Probe(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					res.Checks[c.Name] = checkResult{Status: "ok"}
					return
				}
				// Client-safe text only: the endpoint needs no key, and driver
				// errors name hosts and users.
				res.Checks[c.Name] = checkResult{Status: "down", Error: protostar.ErrorMessage(err)}
				if c.Required {
					code = http.StatusServiceUnavailable
					res.Status = "unavailable"
				} else if res.Status == "ok" {
					res.Status = "degraded"
				}
			})
		}
		wg.Wait()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(res)
	}
}

// handleOps adds the operational routes /healthz, /readyz and /metrics to
// mux.
func handleOps(mux *http.ServeMux, checks []Check, reg *prometheus.Registry) {
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}

// Ops serves only the operational routes, for a process without the API
// (a worker), so that it can be probed and scraped like the API.
func Ops(checks []Check, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	handleOps(mux, checks, reg)
	return mux
}
