package main

import (
	"fmt"
	"strings"
)

// The growth curve's results: every figure at every point, as a ratio to
// the same figure at the smallest point of the same run (how it grows).
// The targets apply at 1M chunks and are reported there.

const targetPoint = 1_000_000

// curveResults turns the points into results.
func curveResults(points []curvePoint) []Result {
	if len(points) == 0 {
		return nil
	}
	first := points[0]
	var out []Result
	for _, p := range points {
		at := fmt.Sprintf("curve/%d/", p.Chunks)
		base := fmt.Sprintf("curve/%d/", first.Chunks)
		common := map[string]any{"chunks": p.Chunks, "documents": p.Docs, "load_seconds": p.LoadSeconds,
			"build_seconds": p.Build, "sizes": p.Sizes.params(p.Chunks), "build_settings": buildSettings(p.Chunks)}
		for _, mode := range curveModes {
			s, s0 := p.Search[mode], first.Search[mode]
			params := merge(clone(common), map[string]any{"search": s.res.describe(),
				"cpu": cpuPerRequest(s.cpu, s.res.requests())})
			p50 := newResult(at+"search/"+mode+"/p50", ms(s.res.lat.quantile(0.5)), "ms", base+"search/"+mode+"/p50",
				ms(s0.res.lat.quantile(0.5)), params)
			p99 := newResult(at+"search/"+mode+"/p99", ms(s.res.lat.quantile(0.99)), "ms", base+"search/"+mode+"/p99",
				ms(s0.res.lat.quantile(0.99)), params)
			if limit, ok := map[string]float64{"vector": 100, "hybrid": 150}[mode]; ok && p.Chunks == targetPoint {
				p99 = p99.withTarget(fmt.Sprintf("p99 <= %g ms", limit), p99.Value <= limit)
			}
			out = append(out, p50, p99)
		}
		rc := newResult(at+"search/vector/recall@10", p.Recall, "recall", "search/exact_scan", 1, merge(clone(common), p.RecallParams))
		ing := newResult(at+"ingest/chunks_per_s", p.Ingest.rate, "chunks/s", base+"ingest/chunks_per_s", first.Ingest.rate,
			merge(clone(common), map[string]any{"pipeline": p.Ingest.params}))
		if p.Chunks == targetPoint {
			rc = rc.withTarget(">= 0.95", p.Recall >= 0.95)
			ing = ing.withTarget("ratio >= 0.7 (within 30% of the smallest point)", ing.Ratio >= 0.7)
		}
		bpc := newResult(at+"bytes_per_chunk", float64(p.Sizes.Total)/float64(p.Chunks), "bytes", base+"bytes_per_chunk",
			float64(first.Sizes.Total)/float64(first.Chunks), common)
		build := newResult(at+"build_seconds/hnsw", p.Build[benchSpaceIndex], "s", base+"build_seconds/hnsw",
			first.Build[benchSpaceIndex], common)
		out = append(out, rc, ing, bpc, build)
		if h := p.Halfvec; h != nil {
			out = append(out, halfvecResults(at, h)...)
		}
	}
	return out
}

// halfvecResults compares the halfvec index with the vector one.
func halfvecResults(at string, h *halfvecComparison) []Result {
	params := map[string]any{"index": halfvecIndex, "method": "the same queries through postgres.DB.VectorSearch of the space as a vector " +
		"and as a halfvec space (its SQL, ef_search as the service sets it; halfvec hits ranked by full-precision distance), " +
		"vector, halfvec, halfvec, vector; recall against an exact scan with full-precision distances",
		"vector": h.Lat["vector"].describe(), "halfvec": h.Lat["halfvec"].describe()}
	return []Result{
		newResult(at+"halfvec/index_bytes", float64(h.Bytes["halfvec"]), "bytes", at+"vector/index_bytes", float64(h.Bytes["vector"]), params),
		newResult(at+"halfvec/build_seconds", h.Build["halfvec"], "s", at+"vector/build_seconds", h.Build["vector"], params),
		newResult(at+"halfvec/recall@10", h.Recall["halfvec"], "recall", at+"vector/raw_recall@10", h.Recall["vector"], params),
		newResult(at+"halfvec/raw_p99", ms(h.Lat["halfvec"].lat.quantile(0.99)), "ms", at+"vector/raw_p99",
			ms(h.Lat["vector"].lat.quantile(0.99)), params),
	}
}

func (s relSizes) params(chunks int) map[string]any {
	return map[string]any{"table_bytes": s.Table, "indexes_bytes": s.Indexes, "total_bytes": s.Total, "hnsw_bytes": s.HNSW,
		"bytes_per_chunk": round(float64(s.Total) / float64(chunks)), "hnsw_bytes_per_chunk": round(float64(s.HNSW) / float64(chunks))}
}

// isCurve reports whether a result belongs to the growth curve.
func isCurve(name string) bool { return strings.HasPrefix(name, "curve/") }
