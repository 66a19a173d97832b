package main

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
)

// halfvecComparison is the bench space's vector index against an HNSW
// index over the same vectors cast to half-precision halfvec (what a space
// created with index halfvec has), on one table, searched by the service's
// own VectorSearch.
type halfvecComparison struct {
	Bytes  map[string]int64   // index size
	Build  map[string]float64 // build seconds
	Recall map[string]float64 // recall@10 against an exact scan
	Lat    map[string]loadResult
}

// halfvecIndex is the index a halfvec space of the bench's dimension gets
// (postgres.spaceIndexSQL), under a name of its own beside the space's
// vector index; VectorSearch of the space with Index halfvec orders by
// its expression, so the planner picks it.
const (
	halfvecIndexName = benchSpaceIndex + "_half"
	halfvecIndex     = `CREATE INDEX ` + halfvecIndexName + ` ON chunk_embeddings USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops) WHERE space_id = 1`
)

// compareHalfvec builds the halfvec index next to the vector one and
// compares them against exact, the queries' exact tops: size, build time, recall@10 and latency of the same
// queries through VectorSearch (vector, halfvec, halfvec, vector, half a
// search duration each). It drops the halfvec index at the end, so that
// the point's ingest figure maintains one graph, like the other points'.
func (b *bench) compareHalfvec(ctx context.Context, db *database, chunks int, qs []string, exact exactTops, vecBytes int64, vecBuild float64) (*halfvecComparison, error) {
	c := &halfvecComparison{Bytes: map[string]int64{"vector": vecBytes}, Build: map[string]float64{"vector": vecBuild},
		Recall: map[string]float64{}, Lat: map[string]loadResult{}}
	took, err := rebuildSearchIndexes(ctx, db, map[string]string{halfvecIndexName: halfvecIndex}, chunks)
	if err != nil {
		return nil, fmt.Errorf("build the halfvec index: %w", err)
	}
	c.Build["halfvec"] = took[halfvecIndexName]
	var half int64
	if err := db.DB.Pool().QueryRow(ctx, `SELECT pg_relation_size(to_regclass($1))`, halfvecIndexName).Scan(&half); err != nil {
		return nil, err
	}
	c.Bytes["halfvec"] = half
	spaces, vecs, err := halfvecSetup(ctx, db, qs)
	if err != nil {
		return nil, err
	}
	for kind, space := range spaces {
		if c.Recall[kind], err = spaceRecall(ctx, db, space, vecs, exact); err != nil {
			return nil, err
		}
	}
	for _, kind := range []string{"vector", "halfvec", "halfvec", "vector"} {
		res, err := load(ctx, b.s.SearchDuration/2, b.s.SearchConcurrency, func(ctx context.Context, i int) error {
			_, err := db.DB.VectorSearch(ctx, spaces[kind], benchTenant, vecs[i%len(vecs)], protostar.SearchFilter{}, topK)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s search: %w", kind, err)
		}
		r := c.Lat[kind]
		r.add(res)
		c.Lat[kind] = r
	}
	if err := db.exec(ctx, `DROP INDEX `+halfvecIndexName); err != nil {
		return nil, err
	}
	return c, nil
}

// halfvecSetup returns the bench space as vector and as halfvec space, and
// the queries' vectors.
func halfvecSetup(ctx context.Context, db *database, qs []string) (map[string]protostar.EmbeddingSpace, [][]float32, error) {
	space, err := db.DB.ActiveSpace(ctx, benchTenant)
	if err != nil {
		return nil, nil, err
	}
	half := space
	space.Index, half.Index = protostar.IndexVector, protostar.IndexHalfvec
	emb, err := hashembed.New(embedDims)
	if err != nil {
		return nil, nil, err
	}
	vecs, err := emb.Embed(ctx, qs)
	return map[string]protostar.EmbeddingSpace{"vector": space, "halfvec": half}, vecs, err
}

// exactTops is each vector's exact top 10 and 10th distance, computed once
// for the point's recall and both indexes of the halfvec comparison.
type exactTops struct {
	ids []map[int64]bool
	kth []float64
}

func exactTopsOf(ctx context.Context, db *database, vecs [][]float32) (exactTops, error) {
	t := exactTops{ids: make([]map[int64]bool, len(vecs)), kth: make([]float64, len(vecs))}
	err := forEach(ctx, len(vecs), runtime.NumCPU(), func(ctx context.Context, i int) error {
		var err error
		t.ids[i], t.kth[i], err = exactTop(ctx, db, vecs[i])
		return err
	})
	return t, err
}

// spaceRecall is recall@10 of VectorSearch in space against the exact tops.
func spaceRecall(ctx context.Context, db *database, space protostar.EmbeddingSpace, vecs [][]float32, exact exactTops) (float64, error) {
	var found, total atomic.Int64
	err := forEach(ctx, len(vecs), runtime.NumCPU(), func(ctx context.Context, i int) error {
		hits, err := db.DB.VectorSearch(ctx, space, benchTenant, vecs[i], protostar.SearchFilter{}, topK)
		if err != nil {
			return err
		}
		found.Add(int64(recalled(hits, exact.ids[i], exact.kth[i])))
		total.Add(int64(len(exact.ids[i])))
		return nil
	})
	return float64(found.Load()) / float64(max(total.Load(), 1)), err
}
