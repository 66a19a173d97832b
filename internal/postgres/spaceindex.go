package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/protostar/protostar"
)

// An index switch builds the new index under spaceIndexName+reindexNew
// and keeps the old one under +reindexOld for a grace period after the
// switch.
const (
	reindexNew = "_new"
	reindexOld = "_old"
)

// ReindexSpace switches the space's HNSW index to the element type index
// (protostar.IndexVector or IndexHalfvec) without a moment in which its
// searches have no index: it builds the new index concurrently (writes and
// searches go on; minutes on a large space, see docs/benchmarks.md), then
// in one transaction records the type and renames the indexes, and drops
// the old index grace later: a search that read the space's type just
// before the switch still finds an index for its expression. EINVALID for a type the space's
// dimension cannot have, ECONFLICT for a retired space or a switch of the
// space already running; the same type again only ensures the index.
// progress, if not nil, is told each step.
func (db *DB) ReindexSpace(ctx context.Context, id int64, index string, grace time.Duration, progress func(step string)) (protostar.EmbeddingSpace, error) {
	s, err := db.Space(ctx, id)
	if err != nil {
		return s, err
	}
	spec := s.SpaceSpec
	spec.Index = index
	if err := spec.Validate(); err != nil {
		return s, err
	}
	if !s.Live() {
		return s, protostar.Errorf(protostar.ECONFLICT, "embedding space %d is retired", id)
	}
	if spec.IndexType() == s.IndexType() {
		return s, db.EnsureSpaceIndex(ctx, s)
	}
	if progress == nil {
		progress = func(string) {}
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return s, translate(err, "reindex embedding space")
	}
	defer conn.Release()
	lock := `hashtextextended('protostar.reindex.` + strconv.FormatInt(id, 10) + `', 0)`
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lock+`)`).Scan(&locked); err != nil {
		return s, translate(err, "reindex embedding space")
	}
	if !locked {
		return s, protostar.Errorf(protostar.ECONFLICT, "the index of embedding space %d is being switched already", id)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`) }()
	if err := buildNewIndex(ctx, conn, s, spec, progress); err != nil {
		return s, err
	}
	if err := switchIndex(ctx, conn, s, spec); err != nil {
		return s, err
	}
	progress(fmt.Sprintf("searches use the %s index; dropping the %s index in %s", spec.IndexType(), s.IndexType(), grace))
	select {
	case <-time.After(grace):
	case <-ctx.Done():
		// The old index stays until the next switch or retirement drops it.
		return db.Space(context.WithoutCancel(ctx), id)
	}
	if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+spaceIndexName(id)+reindexOld); err != nil {
		return s, translate(err, "drop the previous index of embedding space "+strconv.FormatInt(id, 10))
	}
	return db.Space(ctx, id)
}

// buildNewIndex builds spec's index of space s under its temporary name,
// dropping what an interrupted switch left first.
func buildNewIndex(ctx context.Context, conn *pgxpool.Conn, s protostar.EmbeddingSpace, spec protostar.SpaceSpec, progress func(string)) error {
	name := spaceIndexName(s.ID)
	for _, left := range []string{name + reindexNew, name + reindexOld} {
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+left); err != nil {
			return translate(err, "drop the leftover index "+left)
		}
	}
	progress(fmt.Sprintf("building the %s index of space %d (concurrently: ingest and search go on)", spec.IndexType(), s.ID))
	start := time.Now()
	if _, err := conn.Exec(ctx, spaceIndexSQL(name+reindexNew, s.ID, spec, true)); err != nil {
		return translate(err, "build the "+spec.IndexType()+" index of embedding space "+strconv.FormatInt(s.ID, 10))
	}
	progress(fmt.Sprintf("built in %s", time.Since(start).Round(time.Second)))
	return nil
}

// switchIndex records spec's index type and puts the new index under the
// space's index name, the old one under its +reindexOld name, in one
// transaction.
func switchIndex(ctx context.Context, conn *pgxpool.Conn, s protostar.EmbeddingSpace, spec protostar.SpaceSpec) error {
	name := spaceIndexName(s.ID)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		cur, err := lockSpace(ctx, tx, s.ID)
		if err != nil {
			return err
		}
		if !cur.Live() || cur.IndexType() != s.IndexType() {
			return protostar.Errorf(protostar.ECONFLICT, "embedding space %d changed during the index build (now %s, %s index)",
				s.ID, cur.State, cur.IndexType())
		}
		for _, stmt := range []string{
			`UPDATE embedding_spaces SET index_type = '` + spec.IndexType() + `' WHERE id = ` + strconv.FormatInt(s.ID, 10),
			`ALTER INDEX IF EXISTS ` + name + ` RENAME TO ` + name + reindexOld,
			`ALTER INDEX ` + name + reindexNew + ` RENAME TO ` + name,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return translate(err, "switch the index of embedding space "+strconv.FormatInt(s.ID, 10))
			}
		}
		return nil
	})
}

// dropSpaceIndexes drops the space's index and any a switch left.
func (db *DB) dropSpaceIndexes(ctx context.Context, id int64) error {
	name := spaceIndexName(id)
	var errs []error
	for _, idx := range []string{name, name + reindexNew, name + reindexOld} {
		if _, err := db.pool.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+idx); err != nil {
			errs = append(errs, translate(err, "drop the index "+idx))
		}
	}
	return errors.Join(errs...)
}
