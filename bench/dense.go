package main

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
)

// denseEfs are the hnsw.ef_search values the dense figure measures: the
// dense default (64 for top 10, see postgres.efSearch) up to pgvector's
// maximum, which the service gives hash-v1's sparse queries from 100k
// chunks on.
var denseEfs = []int{40, 64, 100, 200, 400, 1000}

// denseFigure compares the offline embedder's sparse vectors (hash-v1)
// with a dense signed random projection of the same features
// (hash-v2-dense) for HNSW search: the search corpus is loaded once per
// model into a database of its own, and for each ef_search the figure
// measures recall@10 against an exact scan and the raw-SQL latency at the
// search concurrency, both models alternating (ABBA) so that the
// machine's load weighs on both alike. Run it alone with -only dense; it
// is not part of the default run.
func (b *bench) denseFigure(ctx context.Context) ([]Result, error) {
	var sides []*denseSide
	for _, model := range []string{hashembed.ModelSparse, hashembed.ModelDense} {
		s, err := b.denseSetup(ctx, model)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", model, err)
		}
		sides = append(sides, s)
	}
	var out []Result
	for _, ef := range denseEfs {
		res := map[*denseSide]*loadResult{}
		for _, s := range sides {
			if _, err := load(ctx, b.s.SearchWarmup, b.s.SearchConcurrency, s.search(ef)); err != nil {
				return out, fmt.Errorf("%s ef %d warm-up: %w", s.model, ef, err)
			}
			res[s] = &loadResult{}
		}
		for _, s := range []*denseSide{sides[0], sides[1], sides[1], sides[0]} {
			r, err := load(ctx, b.s.SearchDuration/6, b.s.SearchConcurrency, s.search(ef))
			if err != nil {
				return out, fmt.Errorf("%s ef %d: %w", s.model, ef, err)
			}
			res[s].add(r)
		}
		for _, s := range sides {
			recall, err := s.recall(ctx, ef)
			if err != nil {
				return out, err
			}
			out = append(out, s.results(b.s, ef, recall, res[s])...)
		}
	}
	return out, nil
}

// denseSide is one model's loaded corpus, its queries' vectors and their
// exact top 10.
type denseSide struct {
	model string
	db    *database
	space protostar.EmbeddingSpace
	vecs  [][]float32
	exact []map[int64]bool
	kth   []float64
	// params describe the load: documents, seconds, index size.
	params map[string]any
}

// denseSetup loads the search corpus embedded by model into a new
// database whose space is that model's, and computes the queries' exact
// top 10.
func (b *bench) denseSetup(ctx context.Context, model string) (*denseSide, error) {
	emb, err := hashembed.NewModel(model, embedDims)
	if err != nil {
		return nil, err
	}
	db, err := b.h.newDatabaseSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: model, Dimensions: embedDims})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	docs, err := loadSearchCorpus(ctx, db, emb, b.s.SearchChunks, b.s.SearchDocChunks)
	if err != nil {
		return nil, err
	}
	loaded := time.Since(start)
	s := &denseSide{model: model, db: db}
	if s.space, err = db.DB.ActiveSpace(ctx, benchTenant); err != nil {
		return nil, err
	}
	qs := queries(seedSearch, seedQueries, docs, b.s.RecallQueries)
	if s.vecs, err = emb.Embed(ctx, qs); err != nil {
		return nil, err
	}
	var indexBytes int64
	if err := db.DB.Pool().QueryRow(ctx, `SELECT pg_relation_size('chunk_embeddings_space_1')`).Scan(&indexBytes); err != nil {
		return nil, fmt.Errorf("index size: %w", err)
	}
	s.exact, s.kth = make([]map[int64]bool, len(qs)), make([]float64, len(qs))
	start = time.Now()
	err = forEach(ctx, len(qs), runtime.NumCPU(), func(ctx context.Context, i int) error {
		var err error
		s.exact[i], s.kth[i], err = exactTop(ctx, db, s.vecs[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	s.params = map[string]any{"model": model, "documents": docs, "load_and_index_seconds": round(loaded.Seconds()),
		"index_mib": round(float64(indexBytes) / mib), "exact_scan_ms": round(ms(time.Since(start)) / float64(len(qs)))}
	b.logger.Info("dense figure: corpus loaded", "model", model, "chunks", b.s.SearchChunks, "params", s.params)
	return s, nil
}

// search is the load function of the service's vector SQL at ef.
func (s *denseSide) search(ef int) func(context.Context, int) error {
	return func(ctx context.Context, i int) error {
		hits, err := s.db.DB.VectorSearchEf(ctx, s.space, benchTenant, s.vecs[i%len(s.vecs)], protostar.SearchFilter{}, topK, ef)
		if err == nil && len(hits) != topK {
			err = fmt.Errorf("vector search returned %d hits", len(hits))
		}
		return err
	}
}

// recall is the share of the exact top 10 the search at ef finds.
func (s *denseSide) recall(ctx context.Context, ef int) (float64, error) {
	var found, total atomic.Int64
	err := forEach(ctx, len(s.vecs), runtime.NumCPU(), func(ctx context.Context, i int) error {
		hits, err := s.db.DB.VectorSearchEf(ctx, s.space, benchTenant, s.vecs[i], protostar.SearchFilter{}, topK, ef)
		if err != nil {
			return fmt.Errorf("%s ef %d recall: %w", s.model, ef, err)
		}
		found.Add(int64(recalled(hits, s.exact[i], s.kth[i])))
		total.Add(int64(len(s.exact[i])))
		return nil
	})
	return float64(found.Load()) / float64(max(total.Load(), 1)), err
}

// results are the side's recall, p50 and p99 at ef.
func (s *denseSide) results(sc scale, ef int, recall float64, res *loadResult) []Result {
	params := merge(clone(s.params), map[string]any{"ef_search": ef, "chunks": sc.SearchChunks, "concurrency": sc.SearchConcurrency,
		"queries": len(s.vecs), "raw": res.describe(),
		"method": "postgres.DB.VectorSearchEf (the service's vector SQL at a fixed hnsw.ef_search) with precomputed query vectors; " +
			"recall: top 10 vs exact scan, ties at the 10th distance count; latency runs alternate the models ABBA"})
	name := fmt.Sprintf("dense/%s/ef%d/", s.model, ef)
	return []Result{
		newResult(name+"recall@10", recall, "recall", "search/exact_scan", 1, params),
		newResult(name+"raw_sql_p50", ms(res.lat.quantile(0.5)), "ms", "", 0, params),
		newResult(name+"raw_sql_p99", ms(res.lat.quantile(0.99)), "ms", "", 0, params),
	}
}
