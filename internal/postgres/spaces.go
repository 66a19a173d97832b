package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
)

// spacesLockKey is the advisory lock between chunk writes (shared) and
// the creation of a space (exclusive).
const spacesLockKey = `hashtextextended('protostar.embedding_spaces', 0)`

const spaceColumns = `id, provider, model, dimensions, send_dimensions, index_type, fingerprint, state, coalesce(previous_id, 0),
	created_at, activated_at, retired_at`

func scanSpace(row pgx.Row) (protostar.EmbeddingSpace, error) {
	var s protostar.EmbeddingSpace
	err := row.Scan(&s.ID, &s.Provider, &s.Model, &s.Dimensions, &s.SendDimensions, &s.Index, &s.Fingerprint, &s.State, &s.PreviousID,
		&s.CreatedAt, &s.ActivatedAt, &s.RetiredAt)
	return s, err
}

func spaceNotFound(id int64) error {
	return protostar.Errorf(protostar.ENOTFOUND, "embedding space %d not found", id)
}

// Spaces returns every embedding space, oldest first.
func (db *DB) Spaces(ctx context.Context) ([]protostar.EmbeddingSpace, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+spaceColumns+` FROM embedding_spaces ORDER BY id`)
	if err != nil {
		return nil, translate(err, "list embedding spaces")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.EmbeddingSpace, error) { return scanSpace(r) })
	return out, translate(err, "list embedding spaces")
}

// Space returns one embedding space, or ENOTFOUND.
func (db *DB) Space(ctx context.Context, id int64) (protostar.EmbeddingSpace, error) {
	s, err := scanSpace(db.pool.QueryRow(ctx, `SELECT `+spaceColumns+` FROM embedding_spaces WHERE id = $1`, id))
	return s, notFoundAs(translate(err, "get embedding space"), spaceNotFound(id))
}

// ActiveSpace returns the space the tenant's searches read: its own if it
// was activated on one, else the active space.
func (db *DB) ActiveSpace(ctx context.Context, tenantID string) (protostar.EmbeddingSpace, error) {
	s, err := scanSpace(db.pool.QueryRow(ctx, `SELECT `+spaceColumns+` FROM embedding_spaces
		WHERE id = coalesce((SELECT space_id FROM tenant_spaces WHERE tenant_id = $1),
			(SELECT id FROM embedding_spaces WHERE state = 'active'))`, tenantID))
	return s, translate(err, "read the active embedding space")
}

// CreateSpace records a building space for spec and builds its (empty)
// index. It waits for chunk writes in flight, so every chunk written after
// it returns carries a vector of the new space, and every chunk written
// before is there for its backfill. A live space with the same fingerprint
// is ECONFLICT.
func (db *DB) CreateSpace(ctx context.Context, spec protostar.SpaceSpec) (protostar.EmbeddingSpace, error) {
	if err := spec.Validate(); err != nil {
		return protostar.EmbeddingSpace{}, err
	}
	var s protostar.EmbeddingSpace
	err := db.inTx(ctx, "create embedding space", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+spacesLockKey+`)`); err != nil {
			return err
		}
		var same int64
		err := tx.QueryRow(ctx, `SELECT id FROM embedding_spaces WHERE fingerprint = $1 AND state <> 'retired'`, spec.Fingerprint()).Scan(&same)
		if err == nil {
			return protostar.Errorf(protostar.ECONFLICT, "embedding space %d already embeds with %s", same, spec.Fingerprint())
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		s, err = scanSpace(tx.QueryRow(ctx, `INSERT INTO embedding_spaces (provider, model, dimensions, send_dimensions, index_type, fingerprint, state)
			VALUES ($1, $2, $3, $4, $5, $6, 'building') RETURNING `+spaceColumns,
			spec.Provider, spec.Model, spec.Dimensions, spec.SendDimensions, spec.IndexType(), spec.Fingerprint()))
		return err
	})
	if err != nil {
		return s, err
	}
	return s, db.EnsureSpaceIndex(ctx, s)
}

// EnsureSpaceIndex builds the space's HNSW index if it is missing,
// without blocking writes.
func (db *DB) EnsureSpaceIndex(ctx context.Context, s protostar.EmbeddingSpace) error {
	_, err := db.pool.Exec(ctx, spaceIndexSQL(spaceIndexName(s.ID), s.ID, s.SpaceSpec, true))
	return translate(err, "build the index of embedding space "+strconv.FormatInt(s.ID, 10))
}

// liveChunksSQL selects the chunks c a space must hold: those of active
// versions and of versions being written (not yet active), of documents
// not deleted ($1: the tenant, ” for all).
const liveChunksSQL = `chunks c JOIN documents d ON d.id = c.document_id
	WHERE d.deleted_at IS NULL AND c.version >= d.indexed_version AND ($1 = '' OR c.tenant_id = $1)`

// SpaceCoverage reports, per tenant (or for tenantID alone), how many live
// chunks the space holds, the tokens of those it lacks, and the tenant's
// latest backfill job of the space.
func (db *DB) SpaceCoverage(ctx context.Context, spaceID int64, tenantID string) ([]protostar.SpaceCoverage, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.tenant_id, count(*), count(e.chunk_id),
			coalesce(sum(c.tokens) FILTER (WHERE e.chunk_id IS NULL), 0)
		FROM chunks c JOIN documents d ON d.id = c.document_id
		LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.space_id = $2
		WHERE d.deleted_at IS NULL AND c.version = d.indexed_version AND ($1 = '' OR c.tenant_id = $1)
		GROUP BY c.tenant_id ORDER BY c.tenant_id`, tenantID, spaceID)
	if err != nil {
		return nil, translate(err, "space coverage")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.SpaceCoverage, error) {
		var c protostar.SpaceCoverage
		return c, r.Scan(&c.TenantID, &c.Chunks, &c.Embedded, &c.MissingTokens)
	})
	if err != nil {
		return nil, translate(err, "space coverage")
	}
	for i := range out {
		j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE tenant_id = $1 AND type = 'embed_backfill'
			AND params @> jsonb_build_object('space', $2::bigint) ORDER BY created_at DESC LIMIT 1`, out[i].TenantID, spaceID))
		if err == nil {
			out[i].Backfill = &j
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, translate(err, "latest backfill job")
		}
	}
	return out, nil
}

// missingChunks counts the live chunks (of tenantID, or all) that have no
// vector in the space.
func missingChunks(ctx context.Context, tx pgx.Tx, spaceID int64, tenantID string) (missing, total int64, err error) {
	err = tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM chunk_embeddings e
			WHERE e.space_id = $2 AND e.chunk_id = c.id)), count(*) FROM `+liveChunksSQL+` AND c.version = d.indexed_version`,
		tenantID, spaceID).Scan(&missing, &total)
	return missing, total, err
}

// ActivateSpace makes the space the one searches read, for every tenant
// (tenantID "") or for one, in one transaction; the space searched until
// then stays written and is what RollbackSpace returns to. Unless force,
// it refuses (ECONFLICT) while any active chunk lacks a vector in the
// space. Every affected tenant's corpus version changes, so no answer
// cached from the other space is served.
func (db *DB) ActivateSpace(ctx context.Context, id int64, tenantID string, force bool) (protostar.EmbeddingSpace, error) {
	var s protostar.EmbeddingSpace
	err := db.inTx(ctx, "activate embedding space", func(tx pgx.Tx) error {
		var err error
		if s, err = lockSpace(ctx, tx, id); err != nil {
			return err
		}
		if s.State == protostar.SpaceRetired {
			return protostar.Errorf(protostar.ECONFLICT, "embedding space %d is retired", id)
		}
		missing, total, err := missingChunks(ctx, tx, id, tenantID)
		if err != nil {
			return err
		}
		if missing > 0 && !force {
			return protostar.Errorf(protostar.ECONFLICT,
				"embedding space %d holds %d of %d chunks (%.1f%%); run backfill until it holds all, or force",
				id, total-missing, total, 100*float64(total-missing)/float64(max(total, 1)))
		}
		if tenantID != "" {
			return activateForTenant(ctx, tx, id, tenantID)
		}
		return activateForAll(ctx, tx, id)
	})
	if err != nil {
		return s, err
	}
	return db.Space(ctx, id)
}

// lockSpace locks every space row (see lockSpacesInOrder) and returns
// space id.
func lockSpace(ctx context.Context, tx pgx.Tx, id int64) (protostar.EmbeddingSpace, error) {
	if err := lockSpacesInOrder(ctx, tx); err != nil {
		return protostar.EmbeddingSpace{}, err
	}
	s, err := scanSpace(tx.QueryRow(ctx, `SELECT `+spaceColumns+` FROM embedding_spaces WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, spaceNotFound(id)
	}
	return s, err
}

// lockSpacesInOrder locks every space row for update, in id order: the
// order chunk writes take them shared (lockLiveSpaces). A change of state
// touches two rows (the space activated and the one it replaces), and
// locking only the first before updating the second deadlocked with a
// chunk write holding the second and waiting for the first.
func lockSpacesInOrder(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT id FROM embedding_spaces ORDER BY id FOR UPDATE`)
	return err
}

func activateForAll(ctx context.Context, tx pgx.Tx, id int64) error {
	var prev int64
	err := tx.QueryRow(ctx, `UPDATE embedding_spaces SET state = 'standby' WHERE state = 'active' AND id <> $1 RETURNING id`, id).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE embedding_spaces SET state = 'active', activated_at = now(),
		previous_id = CASE WHEN $2 = 0 THEN previous_id ELSE $2 END WHERE id = $1`, id, prev); err != nil {
		return err
	}
	// Every tenant follows the active space again.
	if _, err := tx.Exec(ctx, `DELETE FROM tenant_spaces`); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE corpus_versions SET version = version + 1`)
	return err
}

func activateForTenant(ctx context.Context, tx pgx.Tx, id int64, tenantID string) error {
	var current int64
	if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT space_id FROM tenant_spaces WHERE tenant_id = $1),
		(SELECT id FROM embedding_spaces WHERE state = 'active'))`, tenantID).Scan(&current); err != nil {
		return err
	}
	if current == id {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tenant_spaces (tenant_id, space_id, previous_space_id) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET space_id = $2, previous_space_id = $3, activated_at = now()`, tenantID, id, current); err != nil {
		return err
	}
	return bumpCorpus(ctx, tx, tenantID)
}

// RollbackSpace re-activates the space searched before the last
// activation, for every tenant (tenantID "") or for one tenant activated
// on a space of its own, and returns it. ECONFLICT when there is none to
// return to (never activated, or retired since).
func (db *DB) RollbackSpace(ctx context.Context, tenantID string) (protostar.EmbeddingSpace, error) {
	var back int64
	err := db.inTx(ctx, "roll back embedding space", func(tx pgx.Tx) error {
		if tenantID != "" {
			var cur int64
			err := tx.QueryRow(ctx, `SELECT space_id, coalesce(previous_space_id, 0) FROM tenant_spaces WHERE tenant_id = $1 FOR UPDATE`,
				tenantID).Scan(&cur, &back)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && back == 0) {
				return protostar.Errorf(protostar.ECONFLICT, "tenant %q was not activated on a space of its own; roll back for all tenants", tenantID)
			} else if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE tenant_spaces SET space_id = $2, previous_space_id = $3, activated_at = now()
				WHERE tenant_id = $1`, tenantID, back, cur); err != nil {
				return err
			}
			return bumpCorpus(ctx, tx, tenantID)
		}
		if err := lockSpacesInOrder(ctx, tx); err != nil {
			return err
		}
		var cur int64
		err := tx.QueryRow(ctx, `SELECT s.id, coalesce(p.id, 0) FROM embedding_spaces s
			LEFT JOIN embedding_spaces p ON p.id = s.previous_id AND p.state <> 'retired'
			WHERE s.state = 'active' FOR UPDATE OF s`).Scan(&cur, &back)
		if err != nil {
			return err
		}
		if back == 0 {
			return protostar.Errorf(protostar.ECONFLICT, "embedding space %d has no earlier space to roll back to", cur)
		}
		return activateForAll(ctx, tx, back)
	})
	if err != nil {
		return protostar.EmbeddingSpace{}, err
	}
	return db.Space(ctx, back)
}

// RetireSpace stops every write to the space and drops its index, then
// deletes its vectors limit at a time, calling progress after each batch.
// A space some tenant searches is ECONFLICT. Calling it again on a retired
// space finishes an interrupted retirement.
func (db *DB) RetireSpace(ctx context.Context, id int64, limit int, progress func(deleted int64)) error {
	err := db.inTx(ctx, "retire embedding space", func(tx pgx.Tx) error {
		s, err := lockSpace(ctx, tx, id)
		if err != nil {
			return err
		}
		var users int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tenant_spaces WHERE space_id = $1`, id).Scan(&users); err != nil {
			return err
		}
		if s.State == protostar.SpaceActive || users > 0 {
			return protostar.Errorf(protostar.ECONFLICT, "embedding space %d is searched (active for all tenants or for %d); activate another first", id, users)
		}
		if _, err := tx.Exec(ctx, `UPDATE tenant_spaces SET previous_space_id = NULL WHERE previous_space_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE embedding_spaces SET previous_id = NULL WHERE previous_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE embedding_spaces SET state = 'retired', retired_at = coalesce(retired_at, now()) WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	if err := db.dropSpaceIndexes(ctx, id); err != nil {
		return err
	}
	var total int64
	for {
		tag, err := db.pool.Exec(ctx, `DELETE FROM chunk_embeddings WHERE space_id = $1 AND chunk_id IN (
			SELECT chunk_id FROM chunk_embeddings WHERE space_id = $1 LIMIT $2)`, id, limit)
		if err != nil {
			return translate(err, "delete the vectors of a retired space")
		}
		total += tag.RowsAffected()
		if progress != nil {
			progress(total)
		}
		if tag.RowsAffected() < int64(limit) {
			return nil
		}
	}
}

// CreateBackfillJobs records an embed_backfill job of the space for the
// tenant, or for every tenant with live chunks (tenantID ""), unless one is
// already queued or running; it returns the tenants' jobs.
func (db *DB) CreateBackfillJobs(ctx context.Context, spaceID int64, tenantID string, maxAttempts int) ([]protostar.Job, error) {
	s, err := db.Space(ctx, spaceID)
	if err != nil {
		return nil, err
	}
	if !s.Live() {
		return nil, protostar.Errorf(protostar.ECONFLICT, "embedding space %d is retired", spaceID)
	}
	tenants := []string{tenantID}
	if tenantID == "" {
		rows, err := db.pool.Query(ctx, `SELECT DISTINCT tenant_id FROM documents WHERE deleted_at IS NULL ORDER BY 1`)
		if err != nil {
			return nil, translate(err, "list tenants with documents")
		}
		if tenants, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, translate(err, "list tenants with documents")
		}
	}
	params, _ := json.Marshal(map[string]int64{"space": spaceID})
	var jobs []protostar.Job
	for _, t := range tenants {
		j, err := db.CreateJob(ctx, protostar.Job{TenantID: t, Type: protostar.JobEmbedBackfill, Params: params, MaxAttempts: maxAttempts}, 0)
		if err != nil {
			return jobs, fmt.Errorf("backfill job of tenant %q: %w", t, err)
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// MissingChunks returns up to limit live chunks of the tenant with ids
// above after that have no vector in the space, in id order.
func (db *DB) MissingChunks(ctx context.Context, tenantID string, spaceID, after int64, limit int) ([]protostar.StoredChunk, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.content_hash, c.heading_path, c.text FROM `+liveChunksSQL+`
		AND c.id > $3 AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.space_id = $2 AND e.chunk_id = c.id)
		ORDER BY c.id LIMIT $4`, tenantID, spaceID, after, limit)
	if err != nil {
		return nil, translate(err, "find chunks missing from a space")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.StoredChunk, error) {
		var c protostar.StoredChunk
		return c, r.Scan(&c.ID, &c.Hash, &c.HeadingPath, &c.Text)
	})
	return out, translate(err, "find chunks missing from a space")
}

// SpaceVectorsByHash returns, by content hash, vectors the space already
// holds for chunks of the tenant with any of hashes.
func (db *DB) SpaceVectorsByHash(ctx context.Context, tenantID string, spaceID int64, hashes [][]byte) (map[string][]float32, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT ON (c.content_hash) c.content_hash, e.embedding
		FROM chunks c JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.space_id = $2
		WHERE c.tenant_id = $1 AND c.content_hash = ANY($3)`, tenantID, spaceID, hashes)
	if err != nil {
		return nil, translate(err, "load vectors by content hash")
	}
	return collectVectors(rows, map[string][]float32{})
}

// WriteSpaceVectors stores vectors of chunks in the space, fenced by the
// backfill job's attempt (see writeFenced) and only while the space is
// live; a chunk purged meanwhile is skipped. It reports how many it wrote.
func (db *DB) WriteSpaceVectors(ctx context.Context, j protostar.Job, spaceID int64, ids []int64, vecs [][]float32) (int64, error) {
	var n int64
	err := db.writeFenced(ctx, j.ID, j.Attempts, "write space vectors", func(tx pgx.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM embedding_spaces WHERE id = $1 FOR SHARE`, spaceID).Scan(&state); err != nil {
			return err
		}
		if state == protostar.SpaceRetired {
			return protostar.Errorf(protostar.ECONFLICT, "embedding space %d was retired", spaceID)
		}
		pv := make([]pgvector.Vector, len(vecs))
		for i, v := range vecs {
			pv[i] = pgvector.NewVector(v)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO chunk_embeddings (space_id, chunk_id, embedding)
			SELECT $1, u.id, u.v FROM unnest($2::bigint[], $3::vector[]) u(id, v) JOIN chunks c ON c.id = u.id`, spaceID, ids, pv)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// FinishBackfill records the backfill job's success, fenced by its
// attempt, unless live chunks of the tenant still lack a vector in the
// space (EUNAVAILABLE: the job runs again).
func (db *DB) FinishBackfill(ctx context.Context, j protostar.Job, res protostar.SpaceBackfillResult, done int) error {
	return db.inTx(ctx, "finish backfill", func(tx pgx.Tx) error {
		if err := fenceJob(ctx, tx, j); err != nil {
			return err
		}
		missing, _, err := missingChunks(ctx, tx, res.Space, j.TenantID)
		if err != nil {
			return err
		}
		if missing > 0 {
			return protostar.Errorf(protostar.EUNAVAILABLE, "%d chunks still lack a vector in space %d", missing, res.Space)
		}
		return succeedJob(ctx, tx, j.ID, res, done)
	})
}
