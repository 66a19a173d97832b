package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// foldBatch caps the changes folded per tenant and transaction.
const foldBatch = 200

// FoldTermStats folds pending term statistics changes into term_stats and
// tenant_term_stats and returns how many it folded. Ingest and deletion
// append one change per document version that became or stopped being
// searchable (ActivateVersion, DeleteDocument, RetireTenantDocuments), in
// the transaction that does it; folding reads the changed versions' chunk
// rows and adds or subtracts one per distinct term of each chunk, and one
// document per version that has chunks. One
// tenant is folded by one transaction at a time (a transaction-level
// advisory lock; replicas skip a tenant another is folding), so no ingest
// ever waits on a statistics row.
//
// Statistics are exact once every change is folded: search sees a version
// as soon as it is activated and its terms counted from the next fold, so
// they lag by the fold interval plus one outbox tick (PROTOSTAR_TERM_STATS_
// INTERVAL, 5 s, and PROTOSTAR_DISPATCH_INTERVAL, 1 s), never by more
// than the changes of that window; the purge folds first too.
func (db *DB) FoldTermStats(ctx context.Context) (int, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT tenant_id FROM (SELECT tenant_id FROM term_stat_changes ORDER BY id LIMIT 1000) x`)
	if err != nil {
		return 0, translate(err, "find term statistics changes")
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, translate(err, "find term statistics changes")
	}
	total := 0
	for _, t := range tenants {
		for {
			n, err := db.foldTenant(ctx, t)
			total += n
			if err != nil {
				return total, err
			}
			if n < foldBatch {
				break
			}
		}
	}
	return total, nil
}

// foldTenant folds up to foldBatch of a tenant's changes in one
// transaction; 0 when another transaction is folding the tenant.
func (db *DB) foldTenant(ctx context.Context, tenantID string) (int, error) {
	var n int
	err := db.inTx(ctx, "fold term statistics", func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('term_stats:' || $1, 0))`,
			tenantID).Scan(&locked); err != nil || !locked {
			return err
		}
		var zeroed []string
		err := tx.QueryRow(ctx, `WITH ch AS (
				DELETE FROM term_stat_changes WHERE id IN (
					SELECT id FROM term_stat_changes WHERE tenant_id = $1 ORDER BY id LIMIT $2)
				RETURNING id, document_id, added, removed),
			r AS (SELECT ch.id AS change, c.keywords, c.term_count, CASE WHEN c.version = ch.added THEN 1 ELSE -1 END AS sign
				FROM ch JOIN chunks c ON c.document_id = ch.document_id AND c.version IN (ch.added, ch.removed)),
			deltas AS (SELECT t.term, sum(r.sign) AS d FROM r, unnest(tsvector_to_array(r.keywords)) t(term)
				GROUP BY t.term HAVING sum(r.sign) <> 0),
			terms AS (INSERT INTO term_stats AS s (tenant_id, term, df) SELECT $1, term, d FROM deltas ORDER BY term
				ON CONFLICT (tenant_id, term) DO UPDATE SET df = s.df + excluded.df
				RETURNING s.term, s.df),
			totals AS (INSERT INTO tenant_term_stats AS s (tenant_id, chunks, terms, documents)
				SELECT $1, coalesce(sum(sign), 0), coalesce(sum(sign * term_count), 0),
					count(DISTINCT change) FILTER (WHERE sign = 1) - count(DISTINCT change) FILTER (WHERE sign = -1) FROM r
				ON CONFLICT (tenant_id) DO UPDATE SET chunks = s.chunks + excluded.chunks, terms = s.terms + excluded.terms,
					documents = s.documents + excluded.documents)
			SELECT (SELECT count(*) FROM ch), coalesce((SELECT array_agg(term) FROM terms WHERE df <= 0), '{}')`,
			tenantID, foldBatch).Scan(&n, &zeroed)
		if err != nil || len(zeroed) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM term_stats WHERE tenant_id = $1 AND term = ANY($2) AND df <= 0`, tenantID, zeroed)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("fold term statistics of tenant %s: %w", tenantID, err)
	}
	return n, nil
}

// termStats are a tenant's statistics for the terms of one query.
type termStats struct {
	chunks    int64   // searchable chunks
	documents int64   // the document versions they belong to
	avgLen    float64 // their average length in terms
	df        []int64 // per query term
}

// loadTermStats reads the tenant's statistics for terms.
func (db *DB) loadTermStats(ctx context.Context, tenantID string, terms []string) (termStats, error) {
	var st termStats
	var total int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(t.chunks, 0), coalesce(t.documents, 0), coalesce(t.terms, 0),
			array(SELECT coalesce(s.df, 0) FROM unnest($2::text[]) WITH ORDINALITY q(term, i)
				LEFT JOIN term_stats s ON s.tenant_id = $1 AND s.term = q.term ORDER BY q.i)
		FROM (SELECT 1) one LEFT JOIN tenant_term_stats t ON t.tenant_id = $1`, tenantID, terms).Scan(&st.chunks, &st.documents, &total, &st.df)
	if err != nil {
		return st, translate(err, "load term statistics")
	}
	if st.chunks > 0 {
		st.avgLen = float64(total) / float64(st.chunks)
	}
	return st, nil
}

// RecountTermStats replaces a tenant's term statistics with a count of its
// searchable chunks, for rows written without ActivateVersion (the
// benchmark's bulk loads) or to repair them. It reads one snapshot and
// drops only the changes that snapshot already reflects, so ingests may
// run meanwhile; folds of the tenant wait for it.
func (db *DB) RecountTermStats(ctx context.Context, tenantID string) error {
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('term_stats:' || $1, 0))`, tenantID); err != nil {
			return err
		}
		for _, stmt := range []string{
			`DELETE FROM term_stat_changes WHERE tenant_id = $1`,
			`DELETE FROM term_stats WHERE tenant_id = $1`,
			`DELETE FROM tenant_term_stats WHERE tenant_id = $1`,
			`INSERT INTO term_stats (tenant_id, term, df)
			SELECT $1, t.term, count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
				AND d.deleted_at IS NULL AND c.version = d.indexed_version, unnest(tsvector_to_array(c.keywords)) t(term)
			WHERE c.tenant_id = $1 GROUP BY t.term`,
			`INSERT INTO tenant_term_stats (tenant_id, chunks, terms, documents)
			SELECT $1, count(*), coalesce(sum(c.term_count), 0), count(DISTINCT c.document_id) FROM chunks c JOIN documents d ON d.id = c.document_id
				AND d.deleted_at IS NULL AND c.version = d.indexed_version WHERE c.tenant_id = $1`,
		} {
			if _, err := tx.Exec(ctx, stmt, tenantID); err != nil {
				return err
			}
		}
		return nil
	})
	return translate(err, "recount term statistics")
}
