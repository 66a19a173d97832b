//go:build faults

package faults

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"
)

// scenarioSustainedLoad: clients post documents and search at a fixed rate
// (open loop) for a while. No request may fail; the search latency
// quantiles are the figure.
func scenarioSustainedLoad(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{})
	w := newWorkload(c, "load", sc.sections)
	ctx, stop := context.WithTimeout(context.Background(), sc.loadFor)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { atRate(ctx, sc.loadPostRate, func(i int) { w.post(i) }) })
	wg.Go(func() { atRate(ctx, sc.loadSearchRate, func(i int) { w.search(i) }) })
	wg.Wait()

	docs, jobs := w.ids()
	took, err := c.waitSettled(3*time.Minute, docs)
	if err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	errs := w.posts.failed(http.StatusAccepted) + w.searches.failed(http.StatusOK)
	fig.add("%s at %.0f uploads/s + %.0f searches/s: %d errors of %d requests; search p50 %s, p99 %s, max %s; upload p99 %s",
		sc.loadFor, sc.loadPostRate, sc.loadSearchRate, errs, w.posts.total+w.searches.total,
		w.searches.quantile(0.5).Round(time.Millisecond), w.searches.quantile(0.99).Round(time.Millisecond),
		w.searches.quantile(1).Round(time.Millisecond), w.posts.quantile(0.99).Round(time.Millisecond))
	fig.add("%s, backlog drained %s after the load", v, took.Round(100*time.Millisecond))
	t.Logf("slowest search %s; slowest upload %s", w.searches.slowestAt(), w.posts.slowestAt())
	if errs != 0 {
		t.Errorf("uploads: %s", &w.posts)
		t.Errorf("searches: %s", &w.searches)
	}
	requireClean(t, v)
}
