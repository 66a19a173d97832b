package bucketsync

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the sync's work.
type Metrics struct {
	received    prometheus.Counter
	events      *prometheus.CounterVec
	runs        *prometheus.CounterVec
	differences *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "protostar_s3_events_received_total",
			Help: "Bucket notification records accepted by POST /v1/s3-events."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "protostar_s3_events_applied_total",
			Help: "Bucket notification records applied, by outcome (ingested, reingested, deleted, unchanged, stale: a duplicate or late event, own_write, absent, in_flight, ignored, refused)."},
			[]string{"outcome"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "protostar_s3_reconcile_runs_total",
			Help: "Bucket reconciliations (sync jobs) by result (succeeded, failed)."}, []string{"result"}),
		differences: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "protostar_s3_reconcile_differences_total",
			Help: "Differences between the bucket and the index a reconciliation repaired, by kind (ingested, reingested, deleted)."},
			[]string{"kind"}),
	}
	reg.MustRegister(m.received, m.events, m.runs, m.differences)
	return m
}

// Received counts n accepted notification records.
func (m *Metrics) Received(n int) { m.received.Add(float64(n)) }
