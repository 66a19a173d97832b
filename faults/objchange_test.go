//go:build faults

package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar"
)

// scenarioObjectChanged: the object behind a job changes under it. (a)
// Overwritten between enqueue and processing: the document must index the
// new content. (b) Deleted between enqueue and processing: the job must
// fail at once (one attempt) saying the object is gone. (c) Overwritten
// while a worker reads it (each embedding request takes 1.5 s, so reading
// spans seconds): the document must end ready with the chunks of one
// version only, never a mix.
func scenarioObjectChanged(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	emb := newSlowEmbedder(t, 0)
	c := newCluster(t, clusterOpts{env: emb.env()})
	store := c.objects(t)
	n := sc.objectDocs
	seed := func(group, version string, sections int) []string {
		keys := make([]string, n)
		for i := range n {
			keys[i] = fmt.Sprintf("objchange/%s-%02d.md", group, i)
			putObject(t, store, keys[i], markdownDoc(group+version, i, sections))
		}
		return keys
	}
	post := func(w *workload, keys []string) {
		for _, k := range keys {
			if o := w.postKey(k); o.status != http.StatusAccepted {
				t.Fatalf("submit %s: %s", k, o)
			}
		}
	}

	// (a) and (b): the workers are stopped while the objects change.
	for _, p := range c.workers {
		if _, err := p.Stop(30 * time.Second); err != nil {
			t.Fatalf("stop %s: %v", p.name, err)
		}
	}
	wa, wb := newWorkload(c, "a", 0), newWorkload(c, "b", 0)
	keysA, keysB := seed("a", "old", 4), seed("b", "old", 4)
	post(wa, keysA)
	post(wb, keysB)
	seed("a", "new", 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	for _, k := range keysB {
		if err := store.Delete(ctx, protostar.ObjectKey(tenant, k)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for _, p := range c.workers {
		p.start(t)
	}
	for _, p := range c.workers {
		p.waitReady(t, time.Minute)
	}

	// (c): overwritten while the jobs read their objects.
	emb.setDelay(1500 * time.Millisecond)
	wc := newWorkload(c, "c", 0)
	post(wc, seed("c", "old", 4*sc.bigSections))
	_, jobsC := wc.ids()
	running := 0 // wait (up to 20 s) until every one of them runs
	for deadline := time.Now().Add(20 * time.Second); running < len(jobsC) && time.Now().Before(deadline); {
		running = 0
		for id := range c.runningSoon(time.Second) {
			if slices.Contains(jobsC, id) {
				running++
			}
		}
	}
	seed("c", "new", 4*sc.bigSections)
	t.Logf("(c) objects overwritten with %d of their %d jobs running", running, len(jobsC))
	emb.setDelay(0)

	docsA, jobsA := wa.ids()
	docsB, jobsB := wb.ids()
	docsC, _ := wc.ids()
	all := append(append(append([]string{}, docsA...), docsB...), docsC...)
	if _, err := c.waitSettled(3*time.Minute, all); err != nil {
		t.Fatal(err)
	}
	v := c.verify(append(docsA, docsC...), append(jobsA, jobsC...))
	c.requireVersions(t, docsA, "aold", "anew", true)
	mixed := c.requireVersions(t, docsC, "cold", "cnew", false)
	failedB := c.requireGone(t, jobsB)
	v.otherNotReady -= failedB // (b)'s documents are failed, as they must be
	fig.add("(a) overwritten before processing: %d/%d index the new content; (b) deleted: %d/%d jobs failed after 1 attempt naming the missing object; (c) overwritten mid-read with %d jobs running (%d requests to the embedder): %d documents mixing versions; %s",
		len(docsA), n, failedB, len(jobsB), running, emb.Requests.Load(), mixed, v)
	requireClean(t, v)
}

// requireVersions checks that every document's active chunks come from
// one version of its object (the markers old and new), the new one if
// wantNew. It returns how many mix the two.
func (c *cluster) requireVersions(t *testing.T, docIDs []string, old, new string, wantNew bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := c.db.Query(ctx, `SELECT d.id::text,
			count(*) FILTER (WHERE strpos(c.text, $2) > 0), count(*) FILTER (WHERE strpos(c.text, $3) > 0)
		FROM documents d JOIN chunks c ON c.document_id = d.id AND c.version = d.indexed_version
		WHERE d.id = ANY($1::uuid[]) GROUP BY d.id`, docIDs, old, new)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	mixed := 0
	for rows.Next() {
		var id string
		var nOld, nNew int
		if err := rows.Scan(&id, &nOld, &nNew); err != nil {
			t.Fatal(err)
		}
		switch {
		case nOld > 0 && nNew > 0:
			mixed++
			t.Errorf("document %s mixes %d chunks of the old object with %d of the new", id, nOld, nNew)
		case wantNew && nNew == 0:
			t.Errorf("document %s indexed the object as it was before it was overwritten", id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return mixed
}

// requireGone checks that every job ended failed after one attempt with an
// error that says the object is missing, and returns how many did.
func (c *cluster) requireGone(t *testing.T, jobIDs []string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	states, err := c.jobStates(ctx, jobIDs)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, id := range jobIDs {
		s := states[id]
		if s.status == "failed" && s.attempts == 1 && strings.Contains(strings.ToLower(s.err), "not found") {
			ok++
			continue
		}
		t.Errorf("job %s for a deleted object: %s after %d attempts with %q; want failed after 1, saying not found", id, s.status, s.attempts, s.err)
	}
	return ok
}
