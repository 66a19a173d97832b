//go:build faults

package faults

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// scenarioWorkerKill: while documents ingest, a random worker is killed
// with SIGKILL at random moments and started again. Every document must end
// ready with no duplicated chunk and no job left running; the time until
// the jobs a kill orphaned run again is the recovery time. The victim is
// the worker of a job picked at random among the running ones, so that
// every kill lands mid-job however fast the machine ingests.
func scenarioWorkerKill(t *testing.T, sc scale, rnd *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{})
	w := newWorkload(c, "kill", sc.bigSections)

	// Spread the uploads over the kills, in bursts that fill every
	// worker's slots.
	span := max(20*time.Second, time.Duration(sc.kills)*5*time.Second)
	const burst = 12
	posting := postN(w, sc.killDocs, float64(sc.killDocs)/span.Seconds(), burst)

	var (
		mu        sync.Mutex
		recovered []time.Duration
		orphaned  = map[string]bool{}
		rwg       sync.WaitGroup
	)
	for k := range sc.kills {
		sleepRandom(rnd, 1500*time.Millisecond, 4500*time.Millisecond)
		before := c.waitRunningJobs(t, 2*time.Minute)
		victim, _ := c.holder(before, rnd)
		if victim == nil { // the job ended before its log line was read
			victim = c.workers[rnd.IntN(len(c.workers))]
		}
		victim.Kill()
		killedAt := time.Now()
		t.Logf("kill %d: SIGKILL %s with %d jobs running in the cluster", k+1, victim.name, len(before))
		rwg.Go(func() {
			d, reclaimed, err := c.recovery(before, killedAt, 5*time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("kill %d: %v", k+1, err)
				return
			}
			if len(reclaimed) > 0 { // the victim held jobs
				recovered = append(recovered, d)
			}
			for _, id := range reclaimed {
				orphaned[id] = true
			}
		})
		sleepRandom(rnd, 200*time.Millisecond, 1500*time.Millisecond)
		victim.start(t)
		victim.waitReady(t, time.Minute)
	}
	posting()
	rwg.Wait()
	docs, jobs := w.ids()
	took, err := c.waitSettled(5*time.Minute, docs)
	if err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	slices.Sort(recovered)
	fig.add("%d docs, %d SIGKILLs orphaning %d jobs: %s", len(docs), sc.kills, len(orphaned), v)
	if len(recovered) > 0 {
		fig.add("recovery (SIGKILL → all its jobs running again) p50 %s, max %s over %d kills that hit jobs (stale-after 10s)",
			recovered[len(recovered)/2].Round(100*time.Millisecond), recovered[len(recovered)-1].Round(100*time.Millisecond), len(recovered))
	}
	fig.add("%d jobs needed >1 attempt, settled %s after the last upload", v.retriedJobs, took.Round(time.Second))
	if n := w.posts.failed(202); n != 0 {
		t.Errorf("uploads not accepted: %d; %s", n, &w.posts)
	}
	if len(docs) != sc.killDocs {
		t.Errorf("accepted %d of %d documents", len(docs), sc.killDocs)
	}
	requireClean(t, v)
}

// postN uploads n documents at rate per second in the background, burst
// at a time (optional; default 1); the returned function waits until all
// were sent.
func postN(w *workload, n int, rate float64, burst ...int) (wait func()) {
	b := 1
	if len(burst) > 0 {
		b = burst[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		atRate(ctx, rate/float64(b), func(k int) {
			var wg sync.WaitGroup
			for i := k * b; i < min((k+1)*b, n); i++ {
				wg.Go(func() { w.post(i) })
			}
			wg.Wait()
			if (k+1)*b >= n {
				cancel()
			}
		})
	}()
	return func() { <-done; cancel() }
}

func sleepRandom(rnd *rand.Rand, lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(rnd.Int64N(int64(hi-lo))))
}

// waitRunningJobs waits until some job is running and returns the running
// jobs with their attempt counts.
func (c *cluster) waitRunningJobs(t *testing.T, timeout time.Duration) map[string]int {
	t.Helper()
	jobs := c.runningSoon(timeout)
	if len(jobs) == 0 {
		t.Fatalf("no job running within %s: nothing to kill", timeout)
	}
	return jobs
}

// recovery waits until each job of before (running at since, with its
// attempt count) has finished or been claimed by a new attempt, and
// returns how long after since that was and the jobs that needed a new
// attempt (the ones the kill orphaned).
func (c *cluster) recovery(before map[string]int, since time.Time, timeout time.Duration) (time.Duration, []string, error) {
	ids := make([]string, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	reclaimed := map[string]bool{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		states, err := c.jobStates(ctx, ids)
		cancel()
		if err == nil {
			waiting := 0
			for _, id := range ids {
				s := states[id]
				switch {
				case s.attempts > before[id]:
					reclaimed[id] = true
				case s.status == "running" || s.status == "queued":
					waiting++
				}
			}
			if waiting == 0 {
				return time.Since(since), slices.Collect(maps.Keys(reclaimed)), nil
			}
		}
		if time.Since(since) > timeout {
			return 0, nil, fmt.Errorf("jobs running at the kill not recovered within %s (last error %v)", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
