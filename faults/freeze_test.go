//go:build faults

package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"
)

// scenarioWorkerFreeze: a worker stops (SIGSTOP) for longer than
// stale-after while it holds jobs — as a long GC pause, a frozen VM or a
// starved container would — so its jobs are recovered and run elsewhere;
// then it continues (SIGCONT) as if nothing happened. The stale worker must
// not corrupt the jobs' new attempts: every document ends ready with
// exactly its chunks.
func scenarioWorkerFreeze(t *testing.T, sc scale, rnd *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{})
	w := newWorkload(c, "freeze", sc.bigSections*2)
	posting := postN(w, sc.freezeDocs, float64(sc.freezeDocs)/(time.Duration(sc.freezes)*20*time.Second).Seconds())
	frozenJobs := 0
	for range sc.freezes {
		sleepRandom(rnd, time.Second, 3*time.Second)
		before := c.waitRunningJobs(t, 2*time.Minute)
		victim := c.holder(before, rnd)
		if victim == nil {
			continue // the job finished before its log line was read; the next round picks again
		}
		_ = victim.Signal(syscall.SIGSTOP)
		stoppedAt := time.Now()
		// Hold it until every job it held has been taken over.
		d, reclaimed, err := c.recovery(before, stoppedAt, 2*time.Minute)
		if err != nil {
			_ = victim.Signal(syscall.SIGCONT)
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		_ = victim.Signal(syscall.SIGCONT)
		frozenJobs += len(reclaimed)
		t.Logf("froze %s for %s; %d of its jobs were taken over after %s", victim.name,
			time.Since(stoppedAt).Round(100*time.Millisecond), len(reclaimed), d.Round(100*time.Millisecond))
	}
	posting()
	if frozenJobs == 0 {
		t.Errorf("no freeze caught a worker holding a job")
	}
	docs, jobs := w.ids()
	if _, err := c.waitSettled(5*time.Minute, docs); err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	fig.add("%d SIGSTOP/SIGCONT of workers past stale-after, %d jobs taken over while their first worker was frozen: %s",
		sc.freezes, frozenJobs, v)
	requireClean(t, v)
	for _, p := range c.workers {
		if p.Exited() {
			t.Errorf("%s exited: %v", p.name, p.ExitErr())
		}
	}
}

// holder returns the worker that runs one of the jobs, picked at random,
// from the workers' "job started" log lines.
func (c *cluster) holder(jobs map[string]int, rnd *rand.Rand) *proc {
	if len(jobs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	id := ids[rnd.IntN(len(ids))]
	for _, p := range c.workers {
		if p.LogCount(fmt.Sprintf("job_id=%s job_type=ingest attempt=%d", id, jobs[id])) > 0 {
			return p
		}
	}
	return nil
}
