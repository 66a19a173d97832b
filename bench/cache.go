package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar/internal/testenv"
)

// cacheFigure measures figure 5 on the ingested corpus: a summary and an
// answer computed from scratch (the uncached request) against the same
// request once the result is cached in Redis, all over HTTP, one request
// at a time.
func (b *bench) cacheFigure(ctx context.Context) ([]Result, error) {
	sumCached, sumUncached, err := b.measureSummaries(ctx)
	if err != nil {
		return nil, err
	}
	ansCached, ansUncached, err := b.measureAnswers(ctx)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, k := range []struct {
		name             string
		cached, uncached latencies
		how              string
	}{
		{"summary", sumCached, sumUncached, "POST /v1/documents/{id}/summary (medium): uncached = 202 + job + poll until the summary is served"},
		{"answer", ansCached, ansUncached, "POST /v1/answers (JSON): uncached = hybrid retrieval + extractive generation"},
	} {
		params := map[string]any{"cached": k.cached.describe(), "uncached": k.uncached.describe(),
			"concurrency": 1, "method": k.how, "cache": "Redis (private redis-server), TTL 24h"}
		p50 := newResult("cache/"+k.name+"/p50", ms(k.cached.quantile(0.5)), "ms",
			"cache/"+k.name+"/uncached_p50", ms(k.uncached.quantile(0.5)), params)
		p99 := newResult("cache/"+k.name+"/p99", ms(k.cached.quantile(0.99)), "ms",
			"cache/"+k.name+"/uncached_p99", ms(k.uncached.quantile(0.99)), params)
		out = append(out, p50, p99.withTarget("cached p99 <= 5 ms", p99.Value <= 5))
	}
	return out, nil
}

// measureSummaries: POST …/summary answers 202 with a job when nothing is
// cached; the uncached time runs until the finished summary is served.
func (b *bench) measureSummaries(ctx context.Context) (cached, uncached latencies, err error) {
	rows, err := b.main.DB.Pool().Query(ctx, `SELECT id::text FROM documents WHERE tenant_id = $1 AND status = 'ready'
		ORDER BY key LIMIT $2`, benchTenant, b.s.UncachedSummaries)
	if err != nil {
		return nil, nil, err
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, err
	}
	if len(docs) == 0 {
		return nil, nil, fmt.Errorf("no ready documents to summarise")
	}
	for _, id := range docs {
		start := time.Now()
		if err := b.summarizeFromScratch(ctx, id); err != nil {
			return nil, nil, err
		}
		uncached = append(uncached, time.Since(start))
	}
	cached, err = sequential(ctx, b.s.CacheRequests, true, func(ctx context.Context, i int) error {
		var out struct {
			Cached bool `json:"cached"`
		}
		path := "/v1/documents/" + docs[i%len(docs)] + "/summary"
		if err := b.serve.call(ctx, http.MethodPost, path, map[string]string{"length": "medium"}, http.StatusOK, &out); err != nil {
			return err
		}
		if !out.Cached {
			return fmt.Errorf("summary of %s was not served from the cache", docs[i%len(docs)])
		}
		return nil
	})
	return cached, uncached, err
}

// measureAnswers asks distinct questions first (retrieve and generate),
// then the same questions again.
func (b *bench) measureAnswers(ctx context.Context) (cached, uncached latencies, err error) {
	questions := queries(seedIngest, seedAnswers, b.s.IngestDocs, b.s.UncachedAnswers)
	answer := func(wantCached bool) func(context.Context, int) error {
		return func(ctx context.Context, i int) error {
			var out struct {
				Answer string `json:"answer"`
				Cached bool   `json:"cached"`
			}
			q := questions[i%len(questions)]
			if err := b.serve.call(ctx, http.MethodPost, "/v1/answers", map[string]any{"question": q}, http.StatusOK, &out); err != nil {
				return err
			}
			if out.Cached != wantCached {
				return fmt.Errorf("answer to %q: cached = %v, want %v", q, out.Cached, wantCached)
			}
			return nil
		}
	}
	if uncached, err = sequential(ctx, len(questions), false, answer(false)); err != nil {
		return nil, nil, err
	}
	cached, err = sequential(ctx, b.s.CacheRequests, true, answer(true))
	return cached, uncached, err
}

// summarizeFromScratch requests a summary that is not cached, waits for
// its job, and fetches the summary.
func (b *bench) summarizeFromScratch(ctx context.Context, docID string) error {
	path := "/v1/documents/" + docID + "/summary"
	var first struct {
		Job *struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	if err := b.serve.call(ctx, http.MethodPost, path, map[string]string{"length": "medium"}, http.StatusAccepted, &first); err != nil {
		return err
	}
	if first.Job == nil {
		return fmt.Errorf("summary of %s: 202 without a job", docID)
	}
	err := testenv.Poll(ctx, 2*time.Minute, "summary job "+first.Job.ID, func() (bool, error) {
		var j struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := b.serve.call(ctx, http.MethodGet, "/v1/jobs/"+first.Job.ID, nil, http.StatusOK, &j); err != nil {
			return false, err
		}
		switch j.Status {
		case "succeeded":
			return true, nil
		case "failed", "canceled":
			return false, fmt.Errorf("summary job %s: %s", j.Status, j.Error)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return b.serve.call(ctx, http.MethodPost, path, map[string]string{"length": "medium"}, http.StatusOK, nil)
}

// sequential runs fn n times one after another, after ten unrecorded
// calls if warmup is set, and returns the durations.
func sequential(ctx context.Context, n int, warmup bool, fn func(context.Context, int) error) (latencies, error) {
	for i := range min(n, 10) {
		if !warmup {
			break
		}
		if err := fn(ctx, i); err != nil {
			return nil, err
		}
	}
	out := make(latencies, 0, n)
	for i := range n {
		start := time.Now()
		if err := fn(ctx, i); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}
