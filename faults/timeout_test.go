//go:build faults

package faults

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

// scenarioJobTimeout: every embedding request takes longer than
// PROTOSTAR_JOB_TIMEOUT (10s here), so no attempt can finish. Each
// timed-out attempt is a failed attempt: the job must end failed after
// exactly max_attempts, with an error that names the timeout, and its
// document failed, never retried forever or left running.
func scenarioJobTimeout(t *testing.T, _ scale, _ *rand.Rand, fig *figure) {
	emb := newSlowEmbedder(t, 15*time.Second)
	c := newCluster(t, clusterOpts{env: append(emb.env(), "PROTOSTAR_JOB_TIMEOUT=10s", "PROTOSTAR_JOB_MAX_ATTEMPTS=4")})
	w := newWorkload(c, "timeout", 4)
	began := time.Now()
	if o := w.post(0); o.err != nil || o.status != http.StatusAccepted {
		t.Fatalf("upload: %s", o)
	}
	docs, jobs := w.ids()
	if _, err := c.waitSettled(3*time.Minute, docs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	states, err := c.jobStates(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	s := states[jobs[0]]
	fig.add("job ended %s after %d attempts (max 4) in %s: %q; %d embedding requests",
		s.status, s.attempts, time.Since(began).Round(time.Second), s.err, emb.Requests.Load())
	if s.status != "failed" || s.attempts != 4 || !strings.Contains(s.err, "PROTOSTAR_JOB_TIMEOUT") {
		t.Errorf("job %s after %d attempts with %q; want failed after 4, naming PROTOSTAR_JOB_TIMEOUT", s.status, s.attempts, s.err)
	}
	var status, msg string
	if err := c.db.QueryRow(ctx, `SELECT status, error FROM documents WHERE id = $1`, docs[0]).Scan(&status, &msg); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || msg == "" {
		t.Errorf("document %s with %q; want failed with the job's error", status, msg)
	}
	if broken, err := c.checkInvariants(ctx); err != nil || len(broken) > 0 {
		t.Errorf("invariants: %v %v", broken, err)
	}
}
