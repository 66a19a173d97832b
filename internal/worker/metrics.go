package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of one attempt, the values of the outcome label.
const (
	outcomeSucceeded   = "succeeded"   // the task recorded its result
	outcomeRetried     = "retried"     // failed; the queue delivers it again
	outcomeFailed      = "failed"      // failed for good; the job is failed
	outcomeInterrupted = "interrupted" // the worker stopped; the job resumes later
	outcomeSuperseded  = "superseded"  // another attempt took the job over
)

// Metrics counts and times job attempts by job type and outcome.
type Metrics struct {
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the job metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "protostar_job_attempts_total",
			Help: "Job attempts run by this process, by job type and outcome (succeeded, retried, failed, interrupted, superseded).",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "protostar_job_attempt_duration_seconds",
			Help:    "Run time of job attempts, by job type and outcome.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"type", "outcome"}),
	}
	reg.MustRegister(m.attempts, m.duration)
	return m
}

// observe records one attempt; a nil Metrics records nothing.
func (m *Metrics) observe(jobType, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(jobType, outcome).Inc()
	m.duration.WithLabelValues(jobType, outcome).Observe(d.Seconds())
}
