package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/protostar/protostar"
)

// Metrics are the dispatcher's Prometheus figures.
type Metrics struct {
	deliveries *prometheus.CounterVec
	latency    prometheus.Histogram
	pending    prometheus.Gauge
	oldest     prometheus.Gauge
}

// NewMetrics registers the figures with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "protostar_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: succeeded, retrying, failed (gave up), disabled (the endpoint was)."},
			[]string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "protostar_webhook_attempt_seconds",
			Help: "Time from sending a webhook attempt to its response (or failure).", Buckets: prometheus.DefBuckets}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "protostar_webhook_deliveries_pending",
			Help: "Webhook deliveries not yet delivered or given up, of all tenants (every process reports it; use max())."}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "protostar_webhook_oldest_pending_age_seconds",
			Help: "Age of the oldest pending webhook delivery; 0 when there is none."}),
	}
	for _, o := range []string{"succeeded", "retrying", "failed", "disabled"} {
		m.deliveries.WithLabelValues(o)
	}
	reg.MustRegister(m.deliveries, m.latency, m.pending, m.oldest)
	return m
}

func (m *Metrics) observe(o protostar.AttemptOutcome) {
	if m == nil {
		return
	}
	outcome := "failed"
	switch {
	case o.Succeeded:
		outcome = "succeeded"
	case o.Disable != "":
		outcome = "disabled"
	case o.NextAttemptAt != nil:
		outcome = "retrying"
	}
	m.deliveries.WithLabelValues(outcome).Inc()
	m.latency.Observe(float64(o.Result.LatencyMS) / 1000)
}

func (m *Metrics) backlog(n int64, oldest time.Duration) {
	if m == nil {
		return
	}
	m.pending.Set(float64(n))
	m.oldest.Set(oldest.Seconds())
}
