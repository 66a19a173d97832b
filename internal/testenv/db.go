package testenv

import (
	"context"
	"log/slog"
	"testing"

	"github.com/protostar/protostar/internal/postgres"
)

// NewDB returns a pool on a fresh, fully migrated database with the given
// embedding dimension, closed when the test ends. opts reach postgres.Open.
func NewDB(t testing.TB, dims int, opts ...postgres.Option) *postgres.DB {
	t.Helper()
	dsn := NewDatabase(t)
	logger := slog.New(slog.DiscardHandler)
	m, err := postgres.NewMigrator(logger, dsn, dims)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	db, err := postgres.Open(logger, dsn, 8, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}
