package e2e

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestProbeFloodDoesNotReachPostgres: thousands of unauthenticated /readyz
// and /metrics requests are answered from the background checker and the
// backlog gauges' cache, so they cost Postgres almost nothing (each used to
// run its own queries) and readiness stays ok throughout.
func TestProbeFloodDoesNotReachPostgres(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	xacts := func() int64 {
		t.Helper()
		time.Sleep(1500 * time.Millisecond) // backends report their counts at most once a second
		var n int64
		if err := conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const requests = 4000
	before, start := xacts(), time.Now()
	var notOK atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	var next atomic.Int64
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1); i <= requests; i = next.Add(1) {
				path := "/readyz"
				if i%2 == 0 {
					path = "/metrics"
				}
				resp, err := client.Get(p.URL + path)
				if err != nil || resp.StatusCode != http.StatusOK {
					notOK.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	delta := xacts() - before
	// The background work of serve (readiness probes, the backlog gauges,
	// the outbox loop) makes a few transactions a second whatever the
	// request rate; a flood that reached Postgres would make thousands.
	budget := int64(50 * (took + 3*time.Second).Seconds())
	t.Logf("%d probe requests in %s: %d Postgres transactions meanwhile (budget %d)", requests, took.Round(time.Millisecond), delta, budget)
	if delta > budget {
		t.Errorf("%d probe requests made %d Postgres transactions, more than the background work's %d", requests, delta, budget)
	}
	if n := notOK.Load(); n != 0 {
		t.Errorf("%d of %d probe requests did not answer 200", n, requests)
	}
}
