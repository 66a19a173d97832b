package outbox_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/outbox"
)

type backlogStore struct {
	rows []protostar.JobBacklog
	err  error
}

func (s backlogStore) JobBacklog(context.Context) ([]protostar.JobBacklog, error) {
	return s.rows, s.err
}

func TestBacklogCollector(t *testing.T) {
	t.Parallel()
	c := outbox.NewBacklogCollector(slog.New(slog.DiscardHandler), backlogStore{rows: []protostar.JobBacklog{
		{Type: protostar.JobIngest, Status: protostar.JobQueued, Count: 7, OldestAge: 90 * time.Second},
		{Type: protostar.JobSummary, Status: protostar.JobRunning, Count: 1, OldestAge: 2 * time.Second},
	}}, 0)
	// Every type and status is reported, absent ones as 0.
	want := `
# HELP protostar_jobs Unfinished jobs of all tenants by type and status (queued, running), read from Postgres at scrape time.
# TYPE protostar_jobs gauge
protostar_jobs{status="queued",type="ingest"} 7
protostar_jobs{status="queued",type="summary"} 0
protostar_jobs{status="queued",type="sync"} 0
protostar_jobs{status="queued",type="tenant_delete"} 0
protostar_jobs{status="running",type="ingest"} 0
protostar_jobs{status="running",type="summary"} 1
protostar_jobs{status="running",type="sync"} 0
protostar_jobs{status="running",type="tenant_delete"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "protostar_jobs"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "protostar_job_oldest_age_seconds"); n != 8 {
		t.Errorf("%d age series, want 8", n)
	}

	// With Postgres down the collector reports nothing rather than zeros.
	down := outbox.NewBacklogCollector(slog.New(slog.DiscardHandler), backlogStore{err: errors.New("connection refused")}, 0)
	if n := testutil.CollectAndCount(down); n != 0 {
		t.Errorf("%d series while the store fails, want 0", n)
	}
}

type countingBacklog struct{ n atomic.Int64 }

func (s *countingBacklog) JobBacklog(context.Context) ([]protostar.JobBacklog, error) {
	s.n.Add(1)
	time.Sleep(10 * time.Millisecond)
	return nil, nil
}

// TestBacklogFloodReadsOnce: /metrics needs no key, so a flood of scrapes
// must not become a flood of Postgres queries. Each scrape used to query.
func TestBacklogFloodReadsOnce(t *testing.T) {
	t.Parallel()
	store := &countingBacklog{}
	c := outbox.NewBacklogCollector(slog.New(slog.DiscardHandler), store, time.Hour)
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() { testutil.CollectAndCount(c) })
	}
	wg.Wait()
	if n := store.n.Load(); n != 1 {
		t.Fatalf("200 scrapes made %d backlog queries, want 1 per interval", n)
	}
}
