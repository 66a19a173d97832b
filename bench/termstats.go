package main

import (
	"context"
	"fmt"
	"time"
)

// termStatsDeferral is the fold interval of the runs that do not keep the
// keyword statistics: the longest PROTOSTAR_TERM_STATS_INTERVAL allows.
const termStatsDeferral = time.Minute

// termStatsFigure measures what keeping the keyword statistics (BM25's
// document frequencies and average length, see postgres.FoldTermStats)
// costs ingest: throughput with the statistics folded every 5 s, the
// default, against runs whose processes fold once at start and then not
// for a minute, longer than a run, so that nothing of theirs is folded
// while they are measured. What remains on that side is the one row per
// document version that activation appends to term_stat_changes, the
// whole of the write path's share. In ABBA order, in the same run.
func (b *bench) termStatsFigure(ctx context.Context) ([]Result, error) {
	deferred := []string{"PROTOSTAR_TERM_STATS_INTERVAL=" + termStatsDeferral.String()}
	rate, params, err := b.abbaIngest(ctx, "terms", deferred, nil)
	if err != nil {
		return nil, err
	}
	chunks, _ := params["chunks_per_run"].(int)
	if float64(chunks)/rate[0] >= termStatsDeferral.Seconds() {
		return nil, fmt.Errorf("a deferred run took %.0f s, not less than the %s it defers folds by", float64(chunks)/rate[0], termStatsDeferral)
	}
	params["runs"] = "deferred, kept, kept, deferred"
	params["fold_interval"] = "5s (kept), " + termStatsDeferral.String() + " (deferred)"
	r := newResult("ingest/term_stats/chunks_per_s", rate[1], "chunks/s", "ingest/term_stats/deferred_chunks_per_s", rate[0], params)
	return []Result{r.withTarget("ratio >= 0.9", r.Ratio >= 0.9)}, nil
}
