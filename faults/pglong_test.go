//go:build faults

package faults

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// scenarioPostgresLongOutage: Postgres is stopped for longer than
// PROTOSTAR_JOB_STALE_AFTER while workers hold jobs (each embedding
// request takes 4 s) and stay alive. Their heartbeats cannot be written, so
// once Postgres is back their jobs look abandoned and may be claimed again
// while the first worker still runs them. No process may exit, and every
// job must still end succeeded exactly once: one active version per
// document with exactly its chunks, none duplicated, none lost.
func scenarioPostgresLongOutage(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	emb := newSlowEmbedder(t, 4*time.Second)
	c := newCluster(t, clusterOpts{privatePG: true, env: emb.env()})
	w := newWorkload(c, "pglong", 4)
	pids := c.pids()
	for i := range sc.pgLongDocs {
		if o := w.post(i); o.err != nil || o.status != http.StatusAccepted {
			t.Fatalf("upload %d: %s", i, o)
		}
	}
	running := c.waitRunningJobs(t, time.Minute)
	outage := 10*time.Second + 5*time.Second // PROTOSTAR_JOB_STALE_AFTER + 5 s
	c.pg.Stop()
	t.Logf("postgres stopped with %d jobs running", len(running))
	time.Sleep(outage)
	c.pg.Start()
	t.Logf("postgres started again after %s", outage)
	emb.setDelay(200 * time.Millisecond)

	docs, jobs := w.ids()
	settled, err := c.waitSettled(3*time.Minute, docs)
	if err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	restarted := c.restartedSince(t, pids, "during the outage")
	fig.add("Postgres down %s (stale-after 10s) with %d jobs running on live workers: %d of %d processes restarted; %s; %d jobs needed >1 attempt; settled %s after Postgres returned",
		outage, len(running), restarted, len(c.procs()), v, v.retriedJobs, settled.Round(100*time.Millisecond))
	requireClean(t, v)
}
