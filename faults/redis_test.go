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

// scenarioRedisOutage: Redis is killed for a while during the ingest and
// started again. Uploads must answer 202 throughout (the job waits in the
// Postgres outbox), search must keep answering, and every accepted document
// must end ready.
func scenarioRedisOutage(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{})
	w := newWorkload(c, "redis", sc.bigSections)
	lead, tail := sc.lead, sc.lead
	span := lead + sc.redisOutage + tail
	posting := postN(w, sc.redisDocs, float64(sc.redisDocs)/span.Seconds())
	ctx, stopSearch := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { atRate(ctx, 5, func(i int) { w.search(i) }) })

	time.Sleep(lead) // let ingest get going before the fault
	c.redis.Kill()
	down := time.Now()
	t.Logf("redis stopped (SIGKILL)")
	time.Sleep(sc.redisOutage)
	c.redis.Restart(t)
	up := time.Now()
	t.Logf("redis started again after %s", up.Sub(down).Round(100*time.Millisecond))
	posting()
	stopSearch()
	wg.Wait()

	docs, jobs := w.ids()
	_, err := c.waitSettled(3*time.Minute, docs)
	if err != nil {
		t.Error(err)
	}
	readyAfter := time.Since(up)
	v := c.verify(docs, jobs)
	var duringIDs []string
	w.mu.Lock()
	for i, at := range w.accepted {
		if at.After(down) && at.Before(up) {
			duringIDs = append(duringIDs, w.docIDs[i])
		}
	}
	w.mu.Unlock()
	during := len(duringIDs)
	// When was the backlog accepted during the outage indexed?
	var lastIndexed *time.Time
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = c.db.QueryRow(ctx, `SELECT max(indexed_at) FROM documents WHERE id = ANY($1::uuid[])`, duringIDs).Scan(&lastIndexed)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if lastIndexed != nil {
		readyAfter = lastIndexed.Sub(up)
	}
	fig.add("Redis down %s: POST %d/%d → 202 (%d during the outage), search %d/%d → 200",
		up.Sub(down).Round(time.Second), w.posts.count(http.StatusAccepted), w.posts.total, during,
		w.searches.count(http.StatusOK), w.searches.total)
	fig.add("%s; the outage's backlog was indexed %s after Redis returned", v, readyAfter.Round(100*time.Millisecond))
	if n := w.posts.failed(http.StatusAccepted); n != 0 {
		t.Errorf("%d uploads not answered 202: %s", n, &w.posts)
	}
	if n := w.searches.failed(http.StatusOK); n != 0 {
		t.Errorf("%d searches not answered 200: %s", n, &w.searches)
	}
	if during == 0 {
		t.Errorf("no upload was accepted during the outage")
	}
	requireClean(t, v)
}
