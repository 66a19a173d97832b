//go:build faults

package faults

import (
	"context"
	"fmt"
	"maps"
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
	frozenJobs, caught := 0, 0
	// A round counts only if the worker, once stopped, still held the job
	// it was picked for: a job can end between being read as running and
	// the SIGSTOP, and a round that froze an idle worker proves nothing.
	for round := 0; caught < sc.freezes; round++ {
		if round == 4*sc.freezes+4 {
			t.Fatalf("%d rounds caught a worker holding a job in only %d (want %d)", round, caught, sc.freezes)
		}
		if round == caught {
			sleepRandom(rnd, time.Second, 3*time.Second)
		}
		before := c.waitRunningJobs(t, 2*time.Minute)
		victim, id := c.holder(before, rnd)
		if victim == nil {
			continue // the log line of the picked job was not written yet
		}
		_ = victim.Signal(syscall.SIGSTOP)
		stoppedAt := time.Now()
		if !c.stillRunning(id, before[id]) {
			_ = victim.Signal(syscall.SIGCONT)
			t.Logf("job %s ended before %s stopped; picking again", id, victim.name)
			continue
		}
		// Hold it until every job it held has been taken over.
		d, reclaimed, err := c.recovery(before, stoppedAt, 2*time.Minute)
		if err != nil {
			_ = victim.Signal(syscall.SIGCONT)
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		_ = victim.Signal(syscall.SIGCONT)
		caught++
		frozenJobs += len(reclaimed)
		t.Logf("froze %s for %s; %d of its jobs were taken over after %s", victim.name,
			time.Since(stoppedAt).Round(100*time.Millisecond), len(reclaimed), d.Round(100*time.Millisecond))
	}
	posting()
	if frozenJobs < caught {
		t.Errorf("%d freezes caught a worker holding a job, but only %d jobs were taken over", caught, frozenJobs)
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
// from the workers' "job started" log lines, and the job's id.
func (c *cluster) holder(jobs map[string]int, rnd *rand.Rand) (*proc, string) {
	if len(jobs) == 0 {
		return nil, ""
	}
	ids := slices.Sorted(maps.Keys(jobs))
	id := ids[rnd.IntN(len(ids))]
	for _, p := range c.workers {
		if p.LogCount(fmt.Sprintf("job_id=%s job_type=ingest attempt=%d", id, jobs[id])) > 0 {
			return p, id
		}
	}
	return nil, ""
}

// stillRunning reports whether the job is running its attempt-th attempt.
func (c *cluster) stillRunning(id string, attempt int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	states, err := c.jobStates(ctx, []string{id})
	s := states[id]
	return err == nil && s.status == "running" && s.attempts == attempt
}
