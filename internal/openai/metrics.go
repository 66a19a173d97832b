package openai

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the providers' Prometheus figures: what their requests got
// and where each one's adaptive concurrency window stands. One Metrics
// serves every Embedder and Generator of a process (labelled by model).
type Metrics struct {
	requests *prometheus.CounterVec
	window   *prometheus.GaugeVec
}

// NewMetrics registers the figures with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "protostar_provider_requests_total",
			Help: "Requests to the AI provider by model and outcome: ok, throttled (429), failed (any other error)."},
			[]string{"model", "outcome"}),
		window: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "protostar_provider_concurrency_window",
			Help: "Requests this process may have in flight per model: narrowed by 429s, widened by successes."},
			[]string{"model"}),
	}
	reg.MustRegister(m.requests, m.window)
	return m
}

// observe records one response and the window after it.
func (m *Metrics) observe(model string, status int, window float64) {
	if m == nil {
		return
	}
	outcome := "failed"
	switch {
	case status == http.StatusTooManyRequests:
		outcome = "throttled"
	case status >= 200 && status < 300:
		outcome = "ok"
	}
	m.requests.WithLabelValues(model, outcome).Inc()
	m.window.WithLabelValues(model).Set(window)
}
