//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/s3"
)

// minioMaxAttempts is the retry budget the MinIO scenario runs with. The
// queue backs off 1 s, 2 s, 4 s, 8 s between attempts (internal/queue
// retryDelay: 2^n s, capped at 2 min), but asynq schedules retries in whole
// Unix seconds and forwards them once a second, so each delay really lands
// between d−1 s and d+1 s. With 4 attempts the budget is only about 5–9 s
// from the first failure, less than MinIO sometimes needs just to start on
// a busy machine; with 5 it is about 12–16 s.
const minioMaxAttempts = 5

// scenarioMinIOOutage: (a) MinIO is stopped while jobs need it and comes
// back within the retry budget: the jobs retry with backoff and finish.
// (b) It stays down past the budget: the jobs end failed with an error that
// says why, and reindex revives them once MinIO is back.
func scenarioMinIOOutage(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{privateMinIO: true,
		env: []string{fmt.Sprintf("PROTOSTAR_JOB_MAX_ATTEMPTS=%d", minioMaxAttempts)}})
	w := newWorkload(c, "minio", sc.sections)
	keysA := c.seedObjects(t, "minio/retry", sc.minioRetryDocs, sc.sections)
	keysB := c.seedObjects(t, "minio/fail", sc.minioFailDocs, sc.sections)

	// (a) Down for less than the budget.
	c.minio.Stop()
	downA := time.Now()
	for _, k := range keysA {
		if o := w.postKey(k); o.status != http.StatusAccepted {
			t.Fatalf("submit %s while MinIO is down: %s", k, o)
		}
	}
	docsA, jobsA := w.ids()
	// Keep it down until every job has failed at least once and waits for
	// its retry; MinIO then takes a few seconds to start, during which the
	// retries keep failing.
	sample := anyState(c.waitJobs(t, jobsA, time.Minute, "every job to fail once", func(s jobState) bool {
		return s.attempts >= 2 || s.attempts == 1 && s.status == "queued"
	}))
	time.Sleep(time.Until(downA.Add(3 * time.Second))) // an outage of at least 3 s
	startA := time.Now()
	c.minio.Start()
	outageA, startTook := time.Since(downA), time.Since(startA)
	if _, err := c.waitSettled(2*time.Minute, docsA); err != nil {
		t.Error(err)
	}
	vA := c.verify(docsA, jobsA)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	statesA, err := c.jobStates(ctx, jobsA)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 1<<30, 0
	for _, s := range statesA {
		lo, hi = min(lo, s.attempts), max(hi, s.attempts)
	}
	fig.add("(a) down %s (%s of it MinIO starting), inside the budget of %d attempts (≈12–16 s): %d/%d jobs succeeded after %d–%d attempts (while down: %q)",
		outageA.Round(100*time.Millisecond), startTook.Round(100*time.Millisecond), minioMaxAttempts, vA.jobsOK, len(jobsA), lo, hi,
		sample.err)
	requireClean(t, vA)
	if lo < 2 {
		t.Errorf("a job finished without retrying (attempts %d)", lo)
	}

	// (b) Down past the budget.
	c.minio.Stop()
	downB := time.Now()
	wb := newWorkload(c, "minio", sc.sections)
	for _, k := range keysB {
		if o := wb.postKey(k); o.status != http.StatusAccepted {
			t.Fatalf("submit %s while MinIO is down: %s", k, o)
		}
	}
	docsB, jobsB := wb.ids()
	// Failed is final: these states are the ones to check.
	statesB := c.waitJobs(t, jobsB, 3*time.Minute, "every job to fail", func(s jobState) bool { return s.status == "failed" })
	failedAfter := time.Since(downB)
	failed := anyState(statesB)
	for id, s := range statesB {
		if s.attempts != minioMaxAttempts || !strings.Contains(s.err, fmt.Sprintf("gave up after %d attempts", minioMaxAttempts)) ||
			!strings.Contains(strings.ToLower(s.err), "object store") {
			t.Errorf("job %s failed with attempts %d and error %q; want %d attempts and a clear object-store error",
				id, s.attempts, s.err, minioMaxAttempts)
		}
	}
	for _, d := range docsB {
		doc := c.document(t, d)
		if doc.Status != "failed" || doc.Error == "" {
			t.Errorf("document %s after its job failed: status %s error %q", d, doc.Status, doc.Error)
		}
	}
	c.minio.Start()
	outageB := time.Since(downB)
	var revived []string
	for _, d := range docsB {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		o := c.client.do(ctx, http.MethodPost, "/v1/documents/"+d+"/reindex", "", nil)
		cancel()
		var a acceptedJSON
		if o.err != nil || o.status != http.StatusAccepted || json.Unmarshal(o.body, &a) != nil {
			t.Fatalf("reindex %s: %s", d, o)
		}
		revived = append(revived, a.Job.ID)
	}
	if _, err := c.waitSettled(2*time.Minute, docsB); err != nil {
		t.Error(err)
	}
	vB := c.verify(docsB, revived)
	fig.add("(b) down %s, past the budget: %d/%d jobs failed after %d attempts, %s after the outage began (%q); reindex → %d/%d ready",
		outageB.Round(100*time.Millisecond), len(statesB), len(jobsB), minioMaxAttempts, failedAfter.Round(100*time.Millisecond),
		failed.err, vB.ready, len(docsB))
	requireClean(t, vB)
}

// seedObjects puts n documents straight into the scenario's bucket, where
// the tenant's producer would write them, and returns their keys.
func (c *cluster) seedObjects(t *testing.T, prefix string, n, sections int) []string {
	t.Helper()
	store := c.objects(t)
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("%s-%04d.md", prefix, i)
		putObject(t, store, keys[i], markdownDoc(prefix, i, sections))
	}
	return keys
}

// objects is the cluster's bucket, created if need be, through protostar's
// own S3 adapter.
func (c *cluster) objects(t *testing.T) *s3.Store {
	t.Helper()
	store, err := s3.New(slog.New(slog.DiscardHandler), s3.Config{Endpoint: c.s3.Endpoint, AccessKey: c.s3.AccessKey,
		SecretKey: c.s3.SecretKey, Bucket: c.s3.Bucket, CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

// putObject writes body as the tenant's object key.
func putObject(t *testing.T, store *s3.Store, key string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := store.Put(ctx, protostar.ObjectKey(tenant, key), bytes.NewReader(body), int64(len(body)), "text/markdown"); err != nil {
		t.Fatal(err)
	}
}

// waitJobs waits until cond holds for every listed job and returns the
// states of all of them.
func (c *cluster) waitJobs(t *testing.T, ids []string, timeout time.Duration, what string, cond func(jobState) bool) map[string]jobState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		states, err := c.jobStates(ctx, ids)
		cancel()
		if err == nil && len(states) == len(ids) {
			all := true
			for _, s := range states {
				all = all && cond(s)
			}
			if all {
				return states
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (err %v, states %v)", timeout, what, err, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// anyState returns one of states, to quote.
func anyState(states map[string]jobState) jobState {
	for _, s := range states {
		return s
	}
	return jobState{}
}

type documentJSON struct {
	Status string `json:"status"`
	Error  string `json:"error"`
}

func (c *cluster) document(t *testing.T, id string) documentJSON {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := c.client.do(ctx, http.MethodGet, "/v1/documents/"+id, "", nil)
	var d documentJSON
	if o.err != nil || o.status != http.StatusOK || json.Unmarshal(o.body, &d) != nil {
		t.Fatalf("get document %s: %s", id, o)
	}
	return d
}
