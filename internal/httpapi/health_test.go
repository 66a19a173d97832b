package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadyzFloodProbesInTheBackground: /readyz needs no key, so a flood
// of it must not reach the dependencies: they are probed on the checker's
// schedule, while local checks (draining) answer at once. Each request used
// to probe Postgres, Redis and S3.
func TestReadyzFloodProbesInTheBackground(t *testing.T) {
	t.Parallel()
	var probes atomic.Int64
	var draining atomic.Bool
	c := NewChecker([]Check{
		{Name: "postgres", Required: true, Probe: func(context.Context) error { probes.Add(1); return nil }},
		{Name: "http", Required: true, Local: true, Probe: func(context.Context) error {
			if draining.Load() {
				return errors.New("shutting down")
			}
			return nil
		}},
	}, time.Hour)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	defer c.Stop(context.Background()) // safe twice
	get := func() int {
		rec := httptest.NewRecorder()
		c.serveReadyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	var wg sync.WaitGroup
	for range 500 {
		wg.Go(func() {
			if code := get(); code != http.StatusOK {
				t.Errorf("readyz = %d", code)
			}
		})
	}
	wg.Wait()
	if n := probes.Load(); n != 1 {
		t.Fatalf("500 requests made %d probes, want the 1 at start", n)
	}
	draining.Store(true)
	if code := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining = %d, want 503 at once", code)
	}
}
