//go:build faults

package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// scenarioEditChurn: documents of about a hundred chunks each are
// re-uploaded with new content round after round, while earlier versions
// are still indexing and the purge (every second here) deletes the rows of
// the versions they replace, and a worker holding a job is killed now and
// then. This is the path where a purge that read "the active version" in
// one statement and deleted "every other version" in the next lost a ready
// document's chunks. Every document must end ready at its last version,
// with exactly that version's rows and nothing else once the purge is done;
// every superseded job ends succeeded or canceled, none failed or lost.
func scenarioEditChurn(t *testing.T, sc scale, rnd *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{env: []string{"PROTOSTAR_PURGE_INTERVAL=1s"}})
	w := newWorkload(c, "churn", sc.bigSections)
	last := make([]string, sc.churnDocs) // each document's latest job
	var mu sync.Mutex
	kills := 0
	for round := range sc.churnRounds {
		var wg sync.WaitGroup
		for i := range sc.churnDocs {
			wg.Go(func() {
				o := w.upload(w.key(i), markdownDoc(fmt.Sprintf("churn-r%d", round), i, sc.bigSections))
				if o.err == nil && o.status == http.StatusAccepted {
					mu.Lock()
					last[i] = w.lastJob()
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// Kill at once: the round's jobs take well under a second, so a
		// pause first would often find none running.
		if round%2 == 1 {
			running := c.runningSoon(2 * time.Second)
			if victim, _ := c.holder(running, rnd); victim == nil {
				t.Logf("round %d: no job running to kill", round)
			} else {
				victim.Kill()
				kills++
				t.Logf("round %d: SIGKILL %s with %d jobs running", round, victim.name, len(running))
				victim.start(t)
				victim.waitReady(t, time.Minute)
			}
		}
		sleepRandom(rnd, 300*time.Millisecond, 1200*time.Millisecond)
	}
	allDocs, allJobs := w.ids()
	slices.Sort(allDocs)
	docs := slices.Compact(allDocs)
	if _, err := c.waitSettled(5*time.Minute, docs); err != nil {
		t.Error(err)
	}
	purged, err := c.waitPurged(2 * time.Minute)
	if err != nil {
		t.Error(err)
	}
	v := c.verify(docs, slices.DeleteFunc(slices.Clone(last), func(id string) bool { return id == "" }))
	superseded := c.supersededOutcomes(t, allJobs, last)
	fig.add("%d docs × %d rounds (%d uploads), %d SIGKILLs: %s; superseded jobs %s; purge done %s after settling",
		len(docs), sc.churnRounds, len(allJobs), kills, v, superseded, purged.Round(100*time.Millisecond))
	if n := w.posts.failed(http.StatusAccepted); n != 0 {
		t.Errorf("%d uploads not answered 202: %s", n, &w.posts)
	}
	c.checkLatestContent(t, docs, sc.churnRounds-1)
	requireClean(t, v)
}

// lastJob is the job of the latest accepted upload.
func (w *workload) lastJob() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.jobIDs[len(w.jobIDs)-1]
}

// supersededOutcomes checks the jobs that are not a document's latest:
// each must have ended succeeded (it finished before the next version
// came) or canceled (superseded), never failed or still active.
func (c *cluster) supersededOutcomes(t *testing.T, all, latest []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var older []string
	for _, id := range all {
		if !slices.Contains(latest, id) {
			older = append(older, id)
		}
	}
	states, err := c.jobStates(ctx, older)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, id := range older {
		s, ok := states[id]
		if !ok {
			s.status = "missing"
		}
		count[s.status]++
		if s.status != "succeeded" && s.status != "canceled" {
			t.Errorf("superseded job %s ended %s after %d attempts: %q", id, s.status, s.attempts, s.err)
		}
	}
	return fmt.Sprintf("%d succeeded, %d canceled, %d other", count["succeeded"], count["canceled"],
		len(older)-count["succeeded"]-count["canceled"])
}

// waitPurged waits until no chunk row is left that no reader can see: of
// a version other than the active one, or of a deleted document.
func (c *cluster) waitPurged(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var stale int
		err := c.db.QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE c.version <> d.indexed_version OR d.deleted_at IS NOT NULL`).Scan(&stale)
		cancel()
		if err == nil && stale == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("%d stale chunk rows still there after %s (err %v)", stale, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkLatestContent checks that each document serves its last round's
// text: its active first chunk holds that round's unique marker.
func (c *cluster) checkLatestContent(t *testing.T, docIDs []string, round int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := c.db.Query(ctx, `SELECT d.id::text, coalesce(string_agg(c.text, ' '), '') FROM documents d
		LEFT JOIN chunks c ON c.document_id = d.id AND c.version = d.indexed_version AND c.ordinal < 2
		WHERE d.id = ANY($1::uuid[]) GROUP BY d.id`, docIDs)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := fmt.Sprintf("markerchurnr%d", round)
	for rows.Next() {
		var id, text string
		if err := rows.Scan(&id, &text); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, want) {
			t.Errorf("document %s does not serve its last version (no %s in %q)", id, want, truncate([]byte(text), 120))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// runningSoon returns the jobs running with a live heartbeat, waiting up to
// timeout for one; none if there is none by then.
func (c *cluster) runningSoon(timeout time.Duration) map[string]int {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		jobs, err := c.runningJobs(ctx)
		cancel()
		if (err == nil && len(jobs) > 0) || time.Now().After(deadline) {
			return jobs
		}
		time.Sleep(20 * time.Millisecond)
	}
}
