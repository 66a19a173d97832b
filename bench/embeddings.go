package main

import (
	"context"
	"fmt"
	"time"

	"github.com/protostar/protostar"
)

// backfillRate is the PROTOSTAR_BACKFILL_RATE the figure's worker runs
// with (chunks per second; the product's default is 200).
const backfillRate = 1000

// embeddingsFigure is figure 6 on the search corpus: a second embedding
// space (hash, 256 dimensions) is created and backfilled by a worker
// while vector searches run through the API. It reports the backfill's
// rate (vectors written while the searches ran, over that time) against
// the rate the same chunks were loaded at, and the searches' p99 during
// the backfill against their p99 at rest (target ≤ 1.5×). The backfill is
// left unfinished: the database goes with the run.
func (b *bench) embeddingsFigure(ctx context.Context) ([]Result, error) {
	w := b.search
	if w == nil {
		var err error
		if w, err = b.searchSetup(ctx); err != nil {
			return nil, err
		}
		b.search = w
	}
	search := b.apiSearch(w.qs, "vector")
	if _, err := load(ctx, b.s.SearchWarmup, b.s.SearchConcurrency, search); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	rest, err := load(ctx, b.s.SearchDuration, b.s.SearchConcurrency, search)
	if err != nil {
		return nil, fmt.Errorf("search at rest: %w", err)
	}
	worker, err := b.h.start(ctx, "worker", w.db, 0, fmt.Sprintf("PROTOSTAR_BACKFILL_RATE=%d", backfillRate))
	if err != nil {
		return nil, err
	}
	defer worker.Stop()
	space, err := w.db.DB.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 256})
	if err != nil {
		return nil, err
	}
	began := time.Now()
	jobs, err := w.db.DB.CreateBackfillJobs(ctx, space.ID, benchTenant, 5)
	if err != nil || len(jobs) != 1 {
		return nil, fmt.Errorf("backfill jobs %v: %w", jobs, err)
	}
	during, err := load(ctx, b.s.SearchDuration, b.s.SearchConcurrency, search)
	if err != nil {
		return nil, fmt.Errorf("search during the backfill: %w", err)
	}
	// The rate is what the backfill wrote while the searches ran: a
	// backfill competing with live traffic, as in production.
	took := time.Since(began)
	var written int
	if err := w.db.DB.Pool().QueryRow(ctx, `SELECT count(*) FROM chunk_embeddings WHERE space_id = $1`, space.ID).Scan(&written); err != nil {
		return nil, err
	}
	if written == 0 {
		return nil, fmt.Errorf("the backfill wrote nothing in %s", took.Round(time.Millisecond))
	}
	return b.reportEmbeddings(w, rest, during, written, took), nil
}

func (b *bench) reportEmbeddings(w *searchWorkload, rest, during loadResult, written int, took time.Duration) []Result {
	rate := float64(written) / took.Seconds()
	params := map[string]any{"chunks": b.s.SearchChunks, "backfill_rate_limit": backfillRate, "backfill_seconds": round(took.Seconds()),
		"backfilled_during_measurement": written,
		"new_space":                     "hash-v1, 256 dimensions, beside the active 384", "concurrency": b.s.SearchConcurrency,
		"search": "vector mode through the API", "at_rest": rest.describe(), "during_backfill": during.describe(),
		"load_method": "the search corpus load: chunk, embed, COPY and index the same chunks in the bench process"}
	p99Rest, p99During := ms(rest.lat.quantile(0.99)), ms(during.lat.quantile(0.99))
	return []Result{
		newResult("embeddings/backfill/rate", rate, "chunks/s", "search/corpus_load/rate", w.loadRate, params),
		newResult("embeddings/search_p99/during_backfill", p99During, "ms", "embeddings/search_p99/at_rest", p99Rest, params).
			withTarget("ratio <= 1.5, no errors", p99During <= 1.5*p99Rest && during.errors == 0),
	}
}
