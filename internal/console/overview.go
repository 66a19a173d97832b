package console

import (
	"net/http"
	"slices"
	"time"

	"github.com/protostar/protostar"
)

// statusCount is one bar of a by-status breakdown.
type statusCount struct {
	Status string
	Count  int
}

// chartBar is one five-minute column of the ingest chart, in SVG units.
type chartBar struct {
	X, OKY, OKH, FailY, FailH int
	Label                     string
	Succeeded, Failed         int
}

type overviewData struct {
	Documents    []statusCount
	Jobs         []statusCount
	Stats        protostar.TenantStats
	OldestQueued string
	Chart        []chartBar
	ChartMax     int
	Health       []statusCount // Count 0: ok; the error is in Status's pair
	HealthErrors map[string]string
	Empty        bool
}

// Chart geometry (SVG user units).
const (
	chartHeight = 100
	barWidth    = 20
	barGap      = 6
)

func (c *Console) overview(w http.ResponseWriter, r *http.Request, rq *request) {
	st, err := c.deps.Store.TenantStats(r.Context(), rq.tenant)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := overviewData{Stats: st, HealthErrors: c.deps.Health.Dependencies(r.Context())}
	d.Documents = byStatus(st.Documents, protostar.DocumentPending, protostar.DocumentIndexing, protostar.DocumentReady, protostar.DocumentFailed)
	d.Jobs = byStatus(st.Jobs, protostar.JobQueued, protostar.JobRunning, protostar.JobSucceeded, protostar.JobFailed, protostar.JobCanceled)
	d.Empty = len(st.Documents) == 0
	if st.OldestQueued > 0 {
		d.OldestQueued = roughly(st.OldestQueued)
	}
	d.Chart, d.ChartMax = chart(st.Ingests)
	names := make([]string, 0, len(d.HealthErrors))
	for name := range d.HealthErrors {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		d.Health = append(d.Health, statusCount{Status: name})
	}
	c.render(w, r, rq, http.StatusOK, "overview", d)
}

func byStatus(m map[string]int, order ...string) []statusCount {
	out := make([]statusCount, 0, len(order))
	for _, s := range order {
		out = append(out, statusCount{s, m[s]})
	}
	return out
}

// chart lays the ingest buckets out as stacked bars: succeeded below,
// failed on top, scaled to the busiest bucket.
func chart(buckets []protostar.IngestBucket) ([]chartBar, int) {
	top := 1
	for _, b := range buckets {
		top = max(top, b.Succeeded+b.Failed)
	}
	bars := make([]chartBar, len(buckets))
	for i, b := range buckets {
		ok := b.Succeeded * chartHeight / top
		fail := b.Failed * chartHeight / top
		bars[i] = chartBar{X: i * (barWidth + barGap), OKY: chartHeight - ok, OKH: ok, FailY: chartHeight - ok - fail, FailH: fail,
			Label: b.Start.UTC().Format(time.TimeOnly[:5]), Succeeded: b.Succeeded, Failed: b.Failed}
	}
	return bars, top
}
