//go:build faults

package faults

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// scenarioLongJobSIGTERM: a worker is sent SIGTERM while it holds a job
// far longer than its shutdown budget (each embedding request takes 20 s,
// PROTOSTAR_SHUTDOWN_TIMEOUT is 3 s). The worker must exit within the
// budget, not wait for the job, and the job must not be lost: it goes back
// to the queue and finishes on another worker once embedding is fast again.
func scenarioLongJobSIGTERM(t *testing.T, _ scale, rnd *rand.Rand, fig *figure) {
	emb := newSlowEmbedder(t, 20*time.Second)
	c := newCluster(t, clusterOpts{env: append(emb.env(), "PROTOSTAR_SHUTDOWN_TIMEOUT=3s")})
	w := newWorkload(c, "longjob", 4)
	if o := w.post(0); o.err != nil || o.status != http.StatusAccepted {
		t.Fatalf("upload: %s", o)
	}
	running := c.waitRunningJobs(t, time.Minute)
	var victim *proc
	for deadline := time.Now().Add(30 * time.Second); victim == nil && time.Now().Before(deadline); {
		if victim, _ = c.holder(running, rnd); victim == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if victim == nil {
		t.Fatal("no worker logged the running job")
	}
	took, err := victim.Stop(15 * time.Second)
	if err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	emb.setDelay(0)
	victim.start(t)
	victim.waitReady(t, time.Minute)
	docs, jobs := w.ids()
	settled, err := c.waitSettled(2*time.Minute, docs)
	if err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	fig.add("SIGTERM mid-job (embedding 20s per request, shutdown budget 3s): exited in %s; %s; the job finished %s later",
		took.Round(10*time.Millisecond), v, settled.Round(100*time.Millisecond))
	if took > 3*time.Second+2*time.Second {
		t.Errorf("the worker took %s to exit; its shutdown budget is 3s", took)
	}
	requireClean(t, v)
}
