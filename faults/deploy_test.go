//go:build faults

package faults

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// scenarioGracefulDeploy: a rolling restart sends SIGTERM to every process
// in turn and starts it again on the same port, while clients post and
// search through a load balancer that sends refused connections to the
// other instance. Clients must see no 5xx (nor any other failure) and every
// accepted job must succeed.
func scenarioGracefulDeploy(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{})
	w := newWorkload(c, "deploy", sc.bigSections)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { atRate(ctx, sc.deployPostRate, func(i int) { w.post(i) }) })
	wg.Go(func() { atRate(ctx, sc.deploySearchRate, func(i int) { w.search(i) }) })

	order := []*proc{c.serves[0], c.workers[0], c.serves[1], c.workers[1], c.workers[2]}
	var stops []time.Duration
	rollStart := time.Now()
	for _, p := range order {
		time.Sleep(sc.deployPause) // traffic between steps, as in a real roll-out
		took, err := p.Stop(45 * time.Second)
		if err != nil {
			t.Errorf("%s: SIGTERM: %v (exit must be clean)", p.name, err)
		}
		stops = append(stops, took)
		p.start(t)
		p.waitReady(t, time.Minute)
		t.Logf("%s restarted (stopped in %s)", p.name, took.Round(time.Millisecond))
	}
	roll := time.Since(rollStart)
	time.Sleep(sc.deployPause)
	stop()
	wg.Wait()

	docs, jobs := w.ids()
	if _, err := c.waitSettled(3*time.Minute, docs); err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	handedBack := 0
	for _, p := range c.workers {
		handedBack += p.LogCount("job interrupted, returning it to the queue")
	}
	fivexx := w.posts.status5xx() + w.searches.status5xx()
	failed := w.posts.failed(http.StatusAccepted) + w.searches.failed(http.StatusOK)
	fig.add("rolling SIGTERM of %d processes in %s (slowest exit %s): %d 5xx, %d failed of %d requests (%d refused connections re-routed)",
		len(order), roll.Round(time.Second), slices.Max(stops).Round(10*time.Millisecond), fivexx, failed,
		w.posts.total+w.searches.total, w.posts.refused+w.searches.refused)
	fig.add("%d/%d jobs succeeded (%d handed back mid-run); %s", v.jobsOK, len(jobs), handedBack, v)
	if failed != 0 {
		t.Errorf("uploads: %s", &w.posts)
		t.Errorf("searches: %s", &w.searches)
	}
	requireClean(t, v)
}
