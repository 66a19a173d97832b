package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
)

var chunkCopyColumns = []string{"tenant_id", "document_id", "version", "ordinal", "heading_path", "text",
	"content_hash", "tokens", "terms", "term_count"}

// CopyChunks writes a batch of chunk rows of one document version with
// COPY, and their vectors in every live embedding space, fenced by the
// set's job attempt (see writeFenced). Every row must hold a vector for
// every live space: if a space was created since the caller listed them,
// nothing is written and the error wraps protostar.ErrSpacesChanged.
// Vectors for spaces retired meanwhile are left out.
func (db *DB) CopyChunks(ctx context.Context, set protostar.ChunkSet, rows []protostar.Chunk) error {
	err := db.writeFenced(ctx, set.JobID, set.Attempt, "copy chunks", func(tx pgx.Tx) error {
		return copyChunkRows(ctx, tx, []SetRows{{Set: set, Rows: rows}})
	})
	if err != nil {
		return fmt.Errorf("copy %d chunks of %s v%d: %w", len(rows), set.DocumentID, set.Version, err)
	}
	return nil
}

// copyChunkRows writes the rows of sets and their vectors in one
// transaction. The shared spaces lock makes CreateSpace wait for it, so a
// write either commits before a space exists (and its backfill sees the
// rows) or sees the space among the live ones.
func copyChunkRows(ctx context.Context, tx pgx.Tx, sets []SetRows) error {
	live, err := lockLiveSpaces(ctx, tx)
	if err != nil {
		return err
	}
	for _, sr := range sets {
		for _, r := range sr.Rows {
			for _, sp := range live {
				if _, ok := r.Embeddings[sp]; !ok {
					return fmt.Errorf("chunk %d has no vector in space %d: %w", r.Ordinal, sp, protostar.ErrSpacesChanged)
				}
			}
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"chunks"}, chunkCopyColumns, chunkSource(sets)); err != nil {
		return err
	}
	ids, err := chunkIDs(ctx, tx, sets)
	if err != nil {
		return err
	}
	var vecs [][]any
	for i, sr := range sets {
		for _, r := range sr.Rows {
			for _, sp := range live {
				vecs = append(vecs, []any{sp, ids[i][r.Ordinal], pgvector.NewVector(r.Embeddings[sp])})
			}
		}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"chunk_embeddings"}, []string{"space_id", "chunk_id", "embedding"}, pgx.CopyFromRows(vecs))
	return err
}

// lockLiveSpaces takes the spaces lock shared and returns the ids of the
// spaces chunk writes must fill, locking their rows against retirement
// until the transaction ends.
func lockLiveSpaces(ctx context.Context, tx pgx.Tx) ([]int64, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(`+spacesLockKey+`)`); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT id FROM embedding_spaces WHERE state <> 'retired' ORDER BY id FOR SHARE`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// chunkIDs returns, per set, the ids of its rows by ordinal. It reads only
// the ordinals the sets hold (by the unique index), not the rows earlier
// batches of the same version wrote.
func chunkIDs(ctx context.Context, tx pgx.Tx, sets []SetRows) ([]map[int]int64, error) {
	docs, versions := make([]string, len(sets)), make([]int, len(sets))
	lo, hi := make([]int, len(sets)), make([]int, len(sets))
	for i, sr := range sets {
		docs[i], versions[i], lo[i], hi[i] = sr.Set.DocumentID, sr.Set.Version, 0, -1
		for j, r := range sr.Rows {
			if j == 0 || r.Ordinal < lo[i] {
				lo[i] = r.Ordinal
			}
			hi[i] = max(hi[i], r.Ordinal)
		}
	}
	rows, err := tx.Query(ctx, `SELECT u.i, c.ordinal, c.id FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) WITH ORDINALITY u(doc, ver, lo, hi, i)
		JOIN chunks c ON c.document_id = u.doc AND c.version = u.ver AND c.ordinal BETWEEN u.lo AND u.hi`, docs, versions, lo, hi)
	if err != nil {
		return nil, err
	}
	out := make([]map[int]int64, len(sets))
	for i := range out {
		out[i] = map[int]int64{}
	}
	var (
		i       int64
		ordinal int
		id      int64
	)
	_, err = pgx.ForEachRow(rows, []any{&i, &ordinal, &id}, func() error {
		out[i-1][ordinal] = id
		return nil
	})
	return out, err
}

// writeFenced runs write in a transaction that commits only if the set's
// job attempt still holds the job. The check comes last, under a share
// lock on the job's row, so a newer attempt's claim either committed first
// (the check fails and the write is rolled back) or waits for this commit
// (and the newer attempt's DeleteVersion then removes what it wrote). The
// lock is held only between the check and the commit: a worker frozen
// mid-write blocks no claim and no reaper.
func (db *DB) writeFenced(ctx context.Context, jobID string, attempt int, op string, write func(pgx.Tx) error) error {
	if jobID == "" {
		return fmt.Errorf("%s: no job attempt to fence the write", op)
	}
	holds := func(tx pgx.Tx, lock string) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM jobs WHERE id = $1 AND status = 'running' AND attempts = $2`+lock,
			jobID, attempt).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s for job %s attempt %d: %w", op, jobID, attempt, protostar.ErrJobNotClaimable)
		}
		return err
	}
	return db.inTx(ctx, op, func(tx pgx.Tx) error {
		// A replaced attempt usually learns it here, before writing.
		if err := holds(tx, ""); err != nil {
			return err
		}
		if err := write(tx); err != nil {
			return err
		}
		return holds(tx, " FOR SHARE")
	})
}

// SetRows is chunk rows of one document version.
type SetRows struct {
	Set  protostar.ChunkSet
	Rows []protostar.Chunk
}

// CopyChunkSets writes the rows of several document versions and their
// vectors (as CopyChunks does) in one transaction and returns how many
// rows it wrote. It is not fenced by a job: the benchmark's yardstick
// loads corpora with it.
func (db *DB) CopyChunkSets(ctx context.Context, sets []SetRows) (int64, error) {
	var n int64
	for _, sr := range sets {
		n += int64(len(sr.Rows))
	}
	err := db.inTx(ctx, "copy chunk sets", func(tx pgx.Tx) error { return copyChunkRows(ctx, tx, sets) })
	return n, err
}

// chunkSource yields the COPY rows of sets in order.
func chunkSource(sets []SetRows) pgx.CopyFromSource {
	s, r := 0, 0
	return pgx.CopyFromFunc(func() ([]any, error) {
		for s < len(sets) && r == len(sets[s].Rows) {
			s, r = s+1, 0
		}
		if s == len(sets) {
			return nil, nil
		}
		set, c := sets[s].Set, sets[s].Rows[r]
		r++
		path := c.HeadingPath
		if path == nil {
			path = []string{} // text[] NOT NULL: no headings is an empty path
		}
		return []any{set.TenantID, set.DocumentID, set.Version, c.Ordinal, path, c.Text, c.Hash,
			c.Tokens, c.Terms, c.TermCount}, nil
	})
}

// DeleteVersion removes every chunk of the set's document version: what a
// crashed or replaced earlier attempt of the same job left behind. It is
// fenced like CopyChunks, so a replaced attempt cannot delete the rows of
// the attempt that replaced it.
func (db *DB) DeleteVersion(ctx context.Context, set protostar.ChunkSet) error {
	return db.writeFenced(ctx, set.JobID, set.Attempt, "delete chunk version", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1 AND version = $2`, set.DocumentID, set.Version)
		return err
	})
}

// ReusableEmbeddings returns, by content hash, the vectors in space that
// version of the document already has for any of hashes.
func (db *DB) ReusableEmbeddings(ctx context.Context, documentID string, version int, space int64, hashes [][]byte) (map[string][]float32, error) {
	out := make(map[string][]float32)
	if version == 0 || len(hashes) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT ON (c.content_hash) c.content_hash, e.embedding
		FROM chunks c JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.space_id = $3
		WHERE c.document_id = $1 AND c.version = $2 AND c.content_hash = ANY($4)`,
		documentID, version, space, hashes)
	if err != nil {
		return nil, translate(err, "load reusable embeddings")
	}
	return collectVectors(rows, out)
}

// collectVectors adds the (hash, vector) rows to out.
func collectVectors(rows pgx.Rows, out map[string][]float32) (map[string][]float32, error) {
	defer rows.Close()
	for rows.Next() {
		var (
			h []byte
			v pgvector.Vector
		)
		if err := rows.Scan(&h, &v); err != nil {
			return nil, translate(err, "scan reusable embedding")
		}
		out[string(h)] = v.Slice()
	}
	return out, translate(rows.Err(), "load reusable embeddings")
}

// ActivateVersion makes the job's version the one search sees, in one
// transaction with finishing the job: readers see the old version or the new
// one, never a mix or nothing. Older versions' rows stay until PurgeStale
// removes them; search ignores them already. If the document was deleted or
// a newer version is already active, the job ends canceled and false is
// returned.
func (db *DB) ActivateVersion(ctx context.Context, j protostar.Job, ix protostar.Indexed) (bool, error) {
	activated := false
	err := db.inTx(ctx, "activate version", func(tx pgx.Tx) error {
		if err := fenceJob(ctx, tx, j); err != nil {
			return err
		}
		fm, err := json.Marshal(ix.FrontMatter)
		if err != nil || ix.FrontMatter == nil {
			fm = []byte(`{}`)
		}
		// The term statistics learn of the swap from a row appended here
		// (see FoldTermStats), never from an update of a shared row.
		var swapped int
		err = tx.QueryRow(ctx, `WITH old AS (SELECT id, indexed_version FROM documents WHERE id = $1 FOR UPDATE),
			swap AS (UPDATE documents d SET indexed_version = $2, content_hash = $3, etag = $4, size = $5,
				chunk_count = $6, indexed_at = now(), updated_at = now(), metadata = $7::jsonb || metadata, index_fingerprint = $8,
				purge_pending = purge_pending OR $2 > 1, -- earlier versions may have left rows, active or not
				status = CASE WHEN version = $2 THEN 'ready' ELSE status END,
				error = CASE WHEN version = $2 THEN '' ELSE error END
			FROM old WHERE d.id = old.id AND d.deleted_at IS NULL AND d.indexed_version < $2
			RETURNING d.tenant_id, d.id, old.indexed_version),
			change AS (INSERT INTO term_stat_changes (tenant_id, document_id, added, removed)
				SELECT tenant_id, id, $2, indexed_version FROM swap)
			SELECT count(*) FROM swap`,
			j.DocumentID, j.Version, ix.ContentHash, ix.ETag, ix.Size, ix.Chunks, string(fm), ix.Fingerprint).Scan(&swapped)
		if err != nil {
			return err
		}
		if swapped == 0 {
			// Superseded: this version's rows are now garbage.
			if _, err := tx.Exec(ctx, `UPDATE documents SET purge_pending = true WHERE id = $1`, j.DocumentID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE jobs SET status = 'canceled', error = 'superseded: the document was deleted or a newer version is indexed',
				finished_at = now(), updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')`, j.ID)
			return err
		}
		activated = true
		if err := bumpCorpus(ctx, tx, j.TenantID); err != nil {
			return err
		}
		if err := succeedJob(ctx, tx, j.ID, ix.Result, ix.Result.ChunksTotal); err != nil {
			return err
		}
		return emitReady(ctx, tx, j)
	})
	return activated, err
}

// MarkIndexing flags the document as being indexed by its current job.
func (db *DB) MarkIndexing(ctx context.Context, documentID string, version int) error {
	_, err := db.pool.Exec(ctx, `UPDATE documents SET status = 'indexing', updated_at = now()
		WHERE id = $1 AND version = $2 AND deleted_at IS NULL AND status <> 'indexing'`, documentID, version)
	return translate(err, "mark document indexing")
}

// PurgeStale deletes chunk rows no reader can see any more — versions
// other than the active one that no live job is writing, and every chunk
// and summary of a deleted document — visiting only documents flagged
// purge_pending. It
// removes at most limit rows per call and reports how many.
//
// Which version is active is read inside the DELETE itself, never carried
// over from an earlier statement: a version activated meanwhile commits its
// job's success and indexed_version together, so the DELETE either still
// sees the live job writing that version or already sees it active.
func (db *DB) PurgeStale(ctx context.Context, limit int) (int64, error) {
	// The purge keeps the rows of versions whose term statistics changes
	// are not folded yet; fold them first.
	if _, err := db.FoldTermStats(ctx); err != nil {
		return 0, err
	}
	rows, err := db.pool.Query(ctx, `SELECT id FROM documents WHERE purge_pending LIMIT 50`)
	if err != nil {
		return 0, translate(err, "find documents to purge")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, translate(err, "find documents to purge")
	}
	var total int64
	for _, id := range ids {
		n, done, err := db.purgeDocument(ctx, id, limit-int(total))
		total += n
		if err != nil || !done {
			return total, err
		}
	}
	return total, nil
}

// purgeDocument deletes up to limit stale rows of one document and clears
// its purge flag once none is left; done is false when limit cut it short.
func (db *DB) purgeDocument(ctx context.Context, id string, limit int) (n int64, done bool, err error) {
	var seen string
	err = db.pool.QueryRow(ctx, `WITH d AS (
			SELECT id, indexed_version, deleted_at IS NOT NULL AS deleted, xmin::text AS seen FROM documents WHERE id = $1
				-- Folding the term statistics reads the rows of changed versions.
				AND NOT EXISTS (SELECT 1 FROM term_stat_changes x WHERE x.document_id = $1)),
		gone AS (
			DELETE FROM chunks WHERE id IN (
				SELECT c.id FROM chunks c, d WHERE c.document_id = d.id AND (d.deleted OR (c.version <> d.indexed_version
					AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.document_id = d.id AND j.version = c.version
						AND j.status IN ('queued', 'running'))))
				LIMIT $2)
			RETURNING 1),
		summaries_gone AS (
			-- A deleted document's summaries go with its chunks,
			DELETE FROM summaries s USING d WHERE s.document_id = d.id AND d.deleted),
		unused AS (
			DELETE FROM section_summary_users u USING d WHERE u.document_id = d.id AND d.deleted
			RETURNING u.tenant_id, u.section_hash),
		sections_gone AS (
			-- and so do the section summaries no other document uses.
			DELETE FROM section_summaries s USING unused x
			WHERE s.tenant_id = x.tenant_id AND s.section_hash = x.section_hash
				AND NOT EXISTS (SELECT 1 FROM section_summary_users o WHERE o.tenant_id = x.tenant_id
					AND o.section_hash = x.section_hash AND o.document_id <> $1))
		SELECT d.seen, (SELECT count(*) FROM gone) FROM d`, id, limit).Scan(&seen, &n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, translate(err, "purge stale chunks")
	}
	if n >= int64(limit) {
		return n, false, nil
	}
	// Done with this document, unless its row changed at all since the
	// DELETE's snapshot: the row's xmin is its version, so any update since
	// (a new version activated, a job failed or canceled and set the flag
	// again, the document deleted) leaves the flag for the next round.
	if _, err := db.pool.Exec(ctx, `UPDATE documents SET purge_pending = false
		WHERE id = $1 AND xmin::text = $2`, id, seen); err != nil {
		return n, false, translate(err, "clear purge flag")
	}
	return n, true, nil
}

// CompleteUnchanged finishes an ingest job whose object is unchanged since
// the active version: the document is ready again with the chunks it has.
func (db *DB) CompleteUnchanged(ctx context.Context, j protostar.Job, res protostar.IngestResult) error {
	return db.inTx(ctx, "complete unchanged", func(tx pgx.Tx) error {
		if err := fenceJob(ctx, tx, j); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'ready', error = '', indexed_at = now(), updated_at = now()
			WHERE id = $1 AND version = $2 AND deleted_at IS NULL`, j.DocumentID, j.Version); err != nil {
			return err
		}
		if err := succeedJob(ctx, tx, j.ID, res, res.ChunksTotal); err != nil {
			return err
		}
		return emitReady(ctx, tx, j)
	})
}

// DocumentByID returns a document of any tenant, deleted or not; only
// workers use it.
func (db *DB) DocumentByID(ctx context.Context, id string) (protostar.Document, bool, error) {
	var deleted bool
	d, err := scanDocument(db.pool.QueryRow(ctx, `SELECT `+documentColumns+`, deleted_at IS NOT NULL FROM documents WHERE id = $1`, id),
		&deleted)
	if err != nil {
		return d, false, notFoundAs(translate(err, "get document"), documentNotFound(id))
	}
	return d, deleted, nil
}

// fenceJob locks the job's row and checks that the attempt j.Attempts
// still holds it, so a worker presumed dead (and replaced) cannot commit
// results over the attempt that replaced it.
func fenceJob(ctx context.Context, tx pgx.Tx, j protostar.Job) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM jobs WHERE id = $1 AND status = 'running' AND attempts = $2 FOR UPDATE`,
		j.ID, j.Attempts).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("commit job %s attempt %d: %w", j.ID, j.Attempts, protostar.ErrJobNotClaimable)
	}
	return err
}
