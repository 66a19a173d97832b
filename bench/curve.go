package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/protostar/protostar/internal/hashembed"
)

// The growth curve (BENCH_SCALE=curve): the same measurements at several
// corpus sizes, each in a database of its own, so that an operator can see
// how search latency, recall, ingest throughput and storage grow with the
// corpus. Each point loads its corpus with COPY without its search indexes
// (the bench space's HNSW index and the keyword index), then builds them
// (timed, with maintenance_work_mem and parallel maintenance workers set
// for the build), then measures.

// curvePoint is what was measured at one corpus size.
type curvePoint struct {
	Chunks, Docs int
	LoadSeconds  float64            // COPY of the corpus, indexes dropped
	Build        map[string]float64 // seconds per index built after the load
	Sizes        relSizes
	Search       map[string]curveSearch // by mode
	Recall       float64
	RecallParams map[string]any
	Ingest       pipelineRun
	Halfvec      *halfvecComparison // at the largest point only
}

// curveSearch is one mode's search load at a point.
type curveSearch struct {
	res loadResult
	cpu map[string]float64
}

// relSizes are the sizes in bytes of the chunks and their vectors
// (chunk_embeddings): what grows with the corpus.
type relSizes struct {
	Table, Indexes, Total int64 // heap+TOAST, every index, both
	HNSW                  int64 // the space's vector index alone
}

var curveModes = []string{"vector", "keyword", "hybrid"}

// parsePoints parses -curve-points: chunk counts, comma-separated, with k
// and M suffixes allowed (10k,100k,1M).
func parsePoints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "M"):
			mult, f = 1_000_000, strings.TrimSuffix(f, "M")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n*mult < 1000 {
			return nil, fmt.Errorf("-curve-points: %q is not a chunk count of at least 1000", f)
		}
		out = append(out, n*mult)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// curve measures every point and returns the results; the caller writes
// them to results.json and the docs.
func (b *bench) curve(ctx context.Context, points []int) ([]curvePoint, error) {
	corpus, err := b.loadIngestCorpus(ctx, "curve/")
	if err != nil {
		return nil, err
	}
	var out []curvePoint
	for i, n := range points {
		b.logger.Info("curve point starting", "chunks", n)
		start := time.Now()
		p, err := b.curvePoint(ctx, n, corpus, i == len(points)-1)
		if err != nil {
			return out, fmt.Errorf("curve at %d chunks: %w", n, err)
		}
		out = append(out, p)
		b.logger.Info("curve point done", "chunks", n, "seconds", time.Since(start).Round(time.Second).Seconds())
	}
	return out, nil
}

// curvePoint loads n chunks into a new database and measures them.
func (b *bench) curvePoint(ctx context.Context, n int, corpus ingestCorpus, largest bool) (curvePoint, error) {
	p := curvePoint{Chunks: n, Search: map[string]curveSearch{}}
	db, err := b.h.newDatabase(ctx, embedDims)
	if err != nil {
		return p, err
	}
	defer db.drop(ctx) // the largest points take gigabytes: not until the harness closes
	if err := b.curveLoad(ctx, db, &p); err != nil {
		return p, err
	}
	serve, err := b.h.start(ctx, "serve", db, 0)
	if err != nil {
		return p, err
	}
	defer serve.Stop()
	qs := queries(seedSearch, seedQueries, p.Docs, b.s.RecallQueries)
	if err := b.curveSearch(ctx, db, serve, qs, &p); err != nil {
		return p, err
	}
	on := *b // recall measures through this point's API and database
	on.main, on.serve = db, serve
	var exact exactTops
	if p.Recall, p.RecallParams, exact, err = on.recall(ctx, qs); err != nil {
		return p, err
	}
	b.logger.Info("curve recall", "chunks", n, "recall@10", round(p.Recall))
	if largest && b.curveHalfvec {
		if p.Halfvec, err = b.compareHalfvec(ctx, db, n, qs, exact, p.Sizes.HNSW, p.Build[benchSpaceIndex]); err != nil {
			return p, err
		}
		b.logger.Info("curve halfvec", "chunks", n, "bytes", p.Halfvec.Bytes, "build_seconds", p.Halfvec.Build, "recall", p.Halfvec.Recall)
	}
	worker, err := b.h.start(ctx, "worker", db, 0)
	if err != nil {
		return p, err
	}
	defer worker.Stop()
	p.Ingest, err = b.measurePipeline(ctx, db, serve, worker, corpus, "curve/")
	return p, err
}

// curveSearch measures each mode's search load through the API of serve,
// with the CPU of Postgres and of the API process.
func (b *bench) curveSearch(ctx context.Context, db *database, serve *proc, qs []string, p *curvePoint) error {
	for _, mode := range curveModes {
		fn := apiSearchOn(serve, qs, mode)
		if _, err := load(ctx, b.s.SearchWarmup, b.s.SearchConcurrency, fn); err != nil {
			return fmt.Errorf("%s warm-up: %w", mode, err)
		}
		cpu := startCPU(ctx, db, map[string]*proc{"serve": serve})
		res, err := load(ctx, b.s.SearchDuration, b.s.SearchConcurrency, fn)
		if err != nil {
			return fmt.Errorf("%s search: %w", mode, err)
		}
		p.Search[mode] = curveSearch{res: res, cpu: cpu.stop(ctx)}
		b.logger.Info("curve search", "chunks", p.Chunks, "mode", mode, "p50_ms", round(ms(res.lat.quantile(0.5))),
			"p99_ms", round(ms(res.lat.quantile(0.99))))
	}
	return nil
}

// curveLoad fills db with p.Chunks chunks by COPY without the search
// indexes, builds them, and records the times and sizes.
func (b *bench) curveLoad(ctx context.Context, db *database, p *curvePoint) error {
	defs, err := dropSearchIndexes(ctx, db)
	if err != nil {
		return err
	}
	emb, err := hashembed.New(embedDims)
	if err != nil {
		return err
	}
	start := time.Now()
	if p.Docs, err = copySearchCorpus(ctx, db, emb, p.Chunks, b.s.SearchDocChunks); err != nil {
		return err
	}
	p.LoadSeconds = round(time.Since(start).Seconds())
	b.logger.Info("curve corpus loaded", "chunks", p.Chunks, "documents", p.Docs, "seconds", p.LoadSeconds)
	// The COPY load bypasses activation, so count the keyword statistics.
	if err := db.DB.RecountTermStats(ctx, benchTenant); err != nil {
		return err
	}
	if p.Build, err = rebuildSearchIndexes(ctx, db, defs, p.Chunks); err != nil {
		return err
	}
	b.logger.Info("curve indexes built", "chunks", p.Chunks, "seconds", p.Build)
	p.Sizes, err = chunkSizes(ctx, db)
	return err
}

// chunkSizes measures the chunks and chunk_embeddings tables: heap with
// TOAST, indexes, and the bench space's vector index alone.
func chunkSizes(ctx context.Context, db *database) (relSizes, error) {
	var s relSizes
	err := db.DB.Pool().QueryRow(ctx, `SELECT pg_table_size('chunks') + pg_table_size('chunk_embeddings'),
		pg_indexes_size('chunks') + pg_indexes_size('chunk_embeddings'),
		pg_total_relation_size('chunks') + pg_total_relation_size('chunk_embeddings'),
		pg_relation_size(to_regclass($1))`, benchSpaceIndex).Scan(&s.Table, &s.Indexes, &s.Total, &s.HNSW)
	if err != nil {
		return s, fmt.Errorf("chunks sizes: %w", err)
	}
	return s, nil
}
