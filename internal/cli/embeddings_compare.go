package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/embedspace"
)

// spaceRun is one space's side of a comparison.
type spaceRun struct {
	Space     protostar.EmbeddingSpace `json:"space"`
	P50MS     float64                  `json:"p50_ms"`
	P99MS     float64                  `json:"p99_ms"`
	latencies []time.Duration
	hits      [][]int64
}

// compare runs every query of --queries as a vector search in two spaces
// for one tenant and prints the mean overlap of their top k and each
// space's latency (query embedding and search), so that an activation is
// decided from evidence.
func (e *embeddings) compare(ctx context.Context) error {
	if e.tenant == "" {
		return usageError{fmt.Errorf("compare needs --tenant: spaces are compared on one tenant's chunks")}
	}
	qs, err := readQueries(e.queries)
	if err != nil {
		return err
	}
	reg, err := e.registry(ctx)
	if err != nil {
		return err
	}
	from, to, err := e.compared(ctx)
	if err != nil {
		return err
	}
	runs := []*spaceRun{{Space: from}, {Space: to}}
	for _, r := range runs {
		if err := e.searchAll(ctx, reg, r, qs); err != nil {
			return err
		}
	}
	overlap := 0.0
	for i := range qs {
		a, b := runs[0].hits[i], runs[1].hits[i]
		common := 0
		for _, id := range a {
			if slices.Contains(b, id) {
				common++
			}
		}
		overlap += float64(common) / float64(e.topK)
	}
	overlap /= float64(len(qs))
	if e.out.json {
		return writeJSON(e.out.w, map[string]any{"tenant": e.tenant, "queries": len(qs), "top_k": e.topK,
			"overlap": overlap, "from": runs[0], "to": runs[1]})
	}
	fmt.Fprintf(e.out.w, "tenant %s, %d queries, vector search top %d\n", e.tenant, len(qs), e.topK)
	fmt.Fprintf(e.out.w, "overlap@%d: %.3f\n", e.topK, overlap)
	for _, r := range runs {
		fmt.Fprintf(e.out.w, "space %d (%s, %s): p50 %.1f ms, p99 %.1f ms\n", r.Space.ID, r.Space.State, r.Space.Fingerprint, r.P50MS, r.P99MS)
	}
	return nil
}

// compared returns the two spaces of a comparison: --from (default the
// tenant's active space) and --to (default the newest other live space).
func (e *embeddings) compared(ctx context.Context) (from, to protostar.EmbeddingSpace, err error) {
	if e.from != 0 {
		from, err = e.db.Space(ctx, e.from)
	} else {
		from, err = e.db.ActiveSpace(ctx, e.tenant)
	}
	if err != nil {
		return from, to, err
	}
	if e.to != 0 {
		to, err = e.db.Space(ctx, e.to)
		return from, to, err
	}
	ss, err := e.db.Spaces(ctx)
	if err != nil {
		return from, to, err
	}
	for _, s := range slices.Backward(ss) {
		if s.Live() && s.ID != from.ID {
			return from, s, nil
		}
	}
	return from, to, usageError{fmt.Errorf("no other live space to compare space %d with", from.ID)}
}

func (e *embeddings) searchAll(ctx context.Context, reg *embedspace.Registry, r *spaceRun, qs []string) error {
	emb, err := reg.For(r.Space)
	if err != nil {
		return err
	}
	for _, q := range qs {
		start := time.Now()
		vecs, err := emb.Embed(ctx, []string{q})
		if err != nil {
			return fmt.Errorf("embed %q for space %d: %w", q, r.Space.ID, err)
		}
		hits, err := e.db.VectorSearch(ctx, r.Space, e.tenant, vecs[0], protostar.SearchFilter{}, e.topK)
		if err != nil {
			return err
		}
		r.latencies = append(r.latencies, time.Since(start))
		ids := make([]int64, len(hits))
		for i, h := range hits {
			ids[i] = h.ChunkID
		}
		r.hits = append(r.hits, ids)
	}
	slices.Sort(r.latencies)
	at := func(p float64) float64 {
		return float64(r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))].Microseconds()) / 1000
	}
	r.P50MS, r.P99MS = at(0.50), at(0.99)
	return nil
}
