package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	dsn := testenv.NewDatabase(t)
	ctx := context.Background()
	m, err := postgres.NewMigrator(slog.New(slog.DiscardHandler), dsn, hashSpec(16))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("first up: %v", err)
	}
	if pending, err := m.Pending(ctx); err != nil || pending {
		t.Fatalf("after up: pending=%v err=%v", pending, err)
	}
	if _, err := m.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != "pending" {
			t.Fatalf("after down, migration %d is %s", s.Source.Version, s.State)
		}
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("second up: %v", err)
	}
	db, err := postgres.Open(slog.New(slog.DiscardHandler), dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.ActiveSpace(ctx, "a")
	if err != nil || s.Dimensions != 16 || s.Fingerprint != "hash/hash-v1/16" || s.State != protostar.SpaceActive {
		t.Fatalf("active space = %+v, %v; want the hash embedder's, 16 dimensions", s, err)
	}
}

func hashSpec(dims int) protostar.SpaceSpec {
	return protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: dims}
}

// TestMigrationMakesTheColumnTheFirstSpace: an installation from before
// embedding spaces keeps its vectors: the chunks.embedding column becomes
// the first, active space, with the model the rows were written by (not
// the configured one), nothing embedded again, and search finds them.
// Rows of another model (mixed in by a model change) get no vector there.
func TestMigrationMakesTheColumnTheFirstSpace(t *testing.T) {
	t.Parallel()
	dsn := testenv.NewDatabase(t)
	ctx := context.Background()
	// Configured with another model since: the rows decide.
	m, err := postgres.NewMigrator(slog.New(slog.DiscardHandler), dsn,
		protostar.SpaceSpec{Provider: "openai", Model: "text-embedding-3-large", Dimensions: 4, SendDimensions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.UpTo(ctx, 14); err != nil {
		t.Fatal(err)
	}
	raw, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	if _, err := raw.Exec(ctx, `
INSERT INTO documents (id, tenant_id, key, status, indexed_version) VALUES ('00000000-0000-0000-0000-000000000001', 'a', 'k.md', 'ready', 1);
INSERT INTO chunks (tenant_id, document_id, version, ordinal, text, content_hash, tokens, embedding, embed_model, embed_dim, terms)
VALUES ('a', '00000000-0000-0000-0000-000000000001', 1, 0, 'old', '\x01', 1, '[1,0,0,0]', 'text-embedding-3-small', 4, 'old'),
       ('a', '00000000-0000-0000-0000-000000000001', 1, 1, 'mixed', '\x02', 1, '[0,1,0,0]', 'nomic-embed-text', 4, 'mixed');`); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(slog.New(slog.DiscardHandler), dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.ActiveSpace(ctx, "a")
	if err != nil || s.Model != "text-embedding-3-small" || s.Provider != "openai" || s.Dimensions != 4 {
		t.Fatalf("first space = %+v, %v; want the rows' model, text-embedding-3-small, 4 dimensions", s, err)
	}
	hits, err := db.VectorSearch(ctx, s, "a", []float32{1, 0, 0, 0}, protostar.SearchFilter{}, 10)
	if err != nil || len(hits) != 1 || hits[0].Text != "old" {
		t.Fatalf("search after the migration = %+v, %v; want the one chunk of the space's model", hits, err)
	}
	cov, err := db.SpaceCoverage(ctx, s.ID, "a")
	if err != nil || len(cov) != 1 || cov[0].Chunks != 2 || cov[0].Embedded != 1 {
		t.Fatalf("coverage = %+v, %v; want 1 of 2 (the other model's chunk missing)", cov, err)
	}
}
