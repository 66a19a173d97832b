package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	dsn := testenv.NewDatabase(t)
	ctx := context.Background()
	m, err := postgres.NewMigrator(slog.New(slog.DiscardHandler), dsn, 16)
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
	dims, err := db.IndexDims(ctx)
	if err != nil || dims != 16 {
		t.Fatalf("index dims = %d, %v; want 16", dims, err)
	}
}
