package outbox

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/protostar/protostar"
)

// BacklogStore reads the unfinished jobs.
type BacklogStore interface {
	JobBacklog(ctx context.Context) ([]protostar.JobBacklog, error)
}

// BacklogCollector exports the unfinished jobs of all tenants from
// Postgres, so that a growing or stuck backlog can raise an alert. Every
// process reports the same figures; aggregate with max(). /metrics needs no
// key, so the figures are read at most once per interval whatever the
// scrape rate, and concurrent scrapes share one read.
type BacklogCollector struct {
	store  BacklogStore
	logger *slog.Logger
	jobs   *prometheus.Desc
	age    *prometheus.Desc
	every  time.Duration

	mu     sync.Mutex // held while reading, so a flood makes one query
	readAt time.Time
	rows   []protostar.JobBacklog
	err    error
}

// NewBacklogCollector returns a collector to register with a registry,
// reading Postgres at most once every interval (default 2s).
func NewBacklogCollector(logger *slog.Logger, store BacklogStore, every time.Duration) *BacklogCollector {
	return &BacklogCollector{
		store:  store,
		every:  cmp.Or(every, 2*time.Second),
		logger: logger.With("component", "outbox"),
		jobs: prometheus.NewDesc("protostar_jobs",
			"Unfinished jobs of all tenants by type and status (queued, running), read from Postgres at scrape time.",
			[]string{"type", "status"}, nil),
		age: prometheus.NewDesc("protostar_job_oldest_age_seconds",
			"Time since the oldest unfinished job of a type and status was submitted; 0 when there is none.",
			[]string{"type", "status"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *BacklogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.age
}

// Collect implements prometheus.Collector. Every type and status is
// reported, with zeros when there is no such job. While Postgres does not
// answer it reports nothing, so that the rest of the scrape still works.
func (c *BacklogCollector) Collect(ch chan<- prometheus.Metric) {
	rows, err := c.read()
	if err != nil {
		c.logger.Debug("job backlog metrics unavailable", "error", err)
		return
	}
	type key struct{ typ, status string }
	seen := map[key]protostar.JobBacklog{}
	for _, b := range rows {
		seen[key{b.Type, b.Status}] = b
	}
	for _, typ := range []string{protostar.JobIngest, protostar.JobSummary, protostar.JobTenantDelete, protostar.JobSync} {
		for _, status := range []string{protostar.JobQueued, protostar.JobRunning} {
			b := seen[key{typ, status}]
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(b.Count), typ, status)
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, b.OldestAge.Seconds(), typ, status)
		}
	}
}

// read returns the backlog as last read, reading it again once it is older
// than the interval (a failed read is kept as long, too).
func (c *BacklogCollector) read() ([]protostar.JobBacklog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && time.Since(c.readAt) < c.every {
		return c.rows, c.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.rows, c.err = c.store.JobBacklog(ctx)
	c.readAt = time.Now()
	return c.rows, c.err
}
