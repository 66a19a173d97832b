package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
)

// OpenMigrated migrates the database of dsn to the latest schema with the
// given embedding dimension and returns a pool of maxConns on it. opts
// reach postgres.Open.
func OpenMigrated(ctx context.Context, dsn string, dims int, maxConns int32, opts ...postgres.Option) (*postgres.DB, error) {
	// The first embedding space is the offline hash embedder's.
	return OpenMigratedSpace(ctx, dsn, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: dims}, maxConns, opts...)
}

// OpenMigratedSpace is OpenMigrated with initial as the first embedding
// space (the one a fresh installation's PROTOSTAR_EMBED_* describe).
func OpenMigratedSpace(ctx context.Context, dsn string, initial protostar.SpaceSpec, maxConns int32, opts ...postgres.Option) (*postgres.DB, error) {
	logger := slog.New(slog.DiscardHandler)
	m, err := postgres.NewMigrator(logger, dsn, initial)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return postgres.Open(logger, dsn, maxConns, opts...)
}

// NewDB returns a pool on a fresh, fully migrated database with the given
// embedding dimension, closed when the test ends. opts reach postgres.Open.
func NewDB(t testing.TB, dims int, opts ...postgres.Option) *postgres.DB {
	t.Helper()
	db, err := OpenMigrated(context.Background(), NewDatabase(t), dims, 8, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}
