package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestWorkerQueues: ingest and summary workers scale apart. A worker
// that consumes only the summary queue leaves ingest jobs alone; one on
// the ingest queue runs them. Both kinds used to share one role and
// one concurrency.
func TestWorkerQueues(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve")
	s.start("worker", "PROTOSTAR_WORKER_QUEUES=summary")
	acc := p.mustUpload("queues/a.md", keyA, []byte("# Queues\n\nOne queue per kind of work.\n"))
	time.Sleep(2 * time.Second)
	if code, body := p.get("/v1/jobs/"+acc.Job.ID, keyA); code != http.StatusOK || decode[jobJSON](t, body).Status != "queued" {
		t.Fatalf("ingest job with only a summary worker: %d %s, want it still queued", code, short(body))
	}
	s.start("worker", "PROTOSTAR_WORKER_QUEUES=ingest", "PROTOSTAR_WORKER_CONCURRENCY=1")
	if j := p.waitJob(acc.Job.ID, keyA, 60*time.Second); j.Status != "succeeded" {
		t.Fatalf("ingest job with an ingest worker: %+v", j)
	}
}
