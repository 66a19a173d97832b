//go:build faults

package faults

import (
	"context"
	"fmt"
)

// invariant is one property of the database that must hold once a
// scenario has settled, whatever faults it suffered; query counts the rows
// that break it.
type invariant struct {
	name  string
	query string
}

// invariants are checked after every scenario (verify). They hold for any
// workload, unlike verify's checks of the scenario's own documents, and so
// catch damage to documents a scenario did not list: a ready document that
// lost its rows, work left half done.
var invariants = []invariant{
	{"ready documents whose active version's rows differ from chunk_count", `SELECT count(*) FROM documents d
		WHERE d.deleted_at IS NULL AND d.status = 'ready' AND
		(SELECT count(*) FROM chunks c WHERE c.document_id = d.id AND c.version = d.indexed_version) <> d.chunk_count`},
	{"documents left indexing without a live job", `SELECT count(*) FROM documents d
		WHERE d.deleted_at IS NULL AND d.status IN ('indexing', 'pending') AND NOT EXISTS (SELECT 1 FROM jobs j
			WHERE j.document_id = d.id AND j.type = 'ingest' AND j.version = d.version AND j.status IN ('queued', 'running'))`},
	{"jobs with more attempts than max_attempts", `SELECT count(*) FROM jobs WHERE attempts > max_attempts`},
	// The dispatch interval (200 ms) plus the stale window (10 s), with room
	// for the reaper's own period.
	{"queued jobs untouched for longer than the dispatch interval and stale window", `SELECT count(*) FROM jobs
		WHERE status = 'queued' AND updated_at < now() - interval '30 seconds'`},
	{"chunk rows of deleted documents the purge says it is done with", `SELECT count(*) FROM chunks c
		JOIN documents d ON d.id = c.document_id WHERE d.deleted_at IS NOT NULL AND NOT d.purge_pending`},
	{"chunk rows of versions no one can see, on documents not flagged for the purge", `SELECT count(*) FROM chunks c
		JOIN documents d ON d.id = c.document_id WHERE c.version <> d.indexed_version AND NOT d.purge_pending
		AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.document_id = d.id AND j.version = c.version AND j.status IN ('queued', 'running'))`},
}

// checkInvariants returns a line for each broken invariant.
func (c *cluster) checkInvariants(ctx context.Context) ([]string, error) {
	var broken []string
	for _, inv := range invariants {
		var n int
		if err := c.db.QueryRow(ctx, inv.query).Scan(&n); err != nil {
			return nil, fmt.Errorf("invariant %q: %w", inv.name, err)
		}
		if n > 0 {
			broken = append(broken, fmt.Sprintf("%d %s", n, inv.name))
		}
	}
	return broken, nil
}
