package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

// A chunk write that lacks the vector of a space created since the
// writer listed the spaces writes nothing and says so; with the vector it
// writes both spaces.
func TestCopyChunksNeedsEveryLiveSpace(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d, j := submitStarted(t, db, "a", "k.md")
	set := protostar.ChunkSet{TenantID: "a", DocumentID: d.ID, Version: j.Version, JobID: j.ID, Attempt: j.Attempts}
	s2, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 8})
	if err != nil {
		t.Fatal(err)
	}
	row := protostar.Chunk{Text: "t", Hash: []byte{1}, Terms: "t", Embeddings: map[int64][]float32{1: {1, 0, 0, 0}}}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{row}); !errors.Is(err, protostar.ErrSpacesChanged) {
		t.Fatalf("write without space %d's vector: %v, want ErrSpacesChanged", s2.ID, err)
	}
	if n := rowsOf(t, db, d.ID, j.Version); n != 0 {
		t.Fatalf("%d rows written by the refused write", n)
	}
	row.Embeddings[s2.ID] = []float32{0, 1, 0, 0, 0, 0, 0, 0}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{row}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, s2.ID} {
		if cov, err := db.SpaceCoverage(ctx, id, "a"); err != nil || len(cov) != 0 {
			// Not active yet: coverage counts active versions only.
			t.Fatalf("coverage of space %d before activation = %+v, %v", id, cov, err)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM chunk_embeddings`); n != 2 {
		t.Fatalf("%d vectors, want one per space", n)
	}
}

// The state machine's refusals, each a conflict with a message that says
// what to do.
func TestSpaceTransitionsRefused(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	writeChunk(t, db, "a", "k.md") // a ready document with one chunk in space 1 only
	s2, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 8})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		code string
	}{
		{"a second space of the same settings", func() error {
			_, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 8})
			return err
		}, protostar.ECONFLICT},
		{"a space of an unknown provider", func() error {
			_, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "cohere", Model: "x", Dimensions: 8})
			return err
		}, protostar.EINVALID},
		{"activation below full coverage", func() error { _, err := db.ActivateSpace(ctx, s2.ID, "", false); return err }, protostar.ECONFLICT},
		{"activation of an unknown space", func() error { _, err := db.ActivateSpace(ctx, 99, "", true); return err }, protostar.ENOTFOUND},
		{"rollback with no earlier space", func() error { _, err := db.RollbackSpace(ctx, ""); return err }, protostar.ECONFLICT},
		{"rollback of a tenant without its own space", func() error { _, err := db.RollbackSpace(ctx, "a"); return err }, protostar.ECONFLICT},
		{"retiring the active space", func() error { return db.RetireSpace(ctx, 1, 100, nil) }, protostar.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); protostar.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
	// Forced, one tenant moves; the rest stays on space 1, and the
	// tenant's rollback returns it there.
	if _, err := db.ActivateSpace(ctx, s2.ID, "a", true); err != nil {
		t.Fatal(err)
	}
	if a, _ := db.ActiveSpace(ctx, "a"); a.ID != s2.ID {
		t.Fatalf("tenant a searches space %d, want %d", a.ID, s2.ID)
	}
	if b, _ := db.ActiveSpace(ctx, "b"); b.ID != 1 {
		t.Fatalf("tenant b searches space %d, want 1", b.ID)
	}
	if err := db.RetireSpace(ctx, s2.ID, 100, nil); protostar.ErrorCode(err) != protostar.ECONFLICT {
		t.Fatalf("retiring a space a tenant searches: %v, want a conflict", err)
	}
	if back, err := db.RollbackSpace(ctx, "a"); err != nil || back.ID != 1 {
		t.Fatalf("tenant rollback = %+v, %v; want space 1", back, err)
	}
	if err := db.RetireSpace(ctx, s2.ID, 100, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ActivateSpace(ctx, s2.ID, "", true); protostar.ErrorCode(err) != protostar.ECONFLICT {
		t.Fatalf("activating a retired space: %v, want a conflict", err)
	}
}

// writeChunk indexes one chunk of tenant's key in the live spaces (space
// 1 only, on a fresh database) and activates the version.
func writeChunk(t *testing.T, db *postgres.DB, tenant, key string) {
	t.Helper()
	ctx := context.Background()
	d, j := submitStarted(t, db, tenant, key)
	set := protostar.ChunkSet{TenantID: tenant, DocumentID: d.ID, Version: j.Version, JobID: j.ID, Attempt: j.Attempts}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{{Text: "t", Hash: []byte{1}, Terms: "t",
		Embeddings: map[int64][]float32{1: {1, 0, 0, 0}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ActivateVersion(ctx, j, protostar.Indexed{Chunks: 1}); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, db *postgres.DB, sql string) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A change of the active space while a chunk write holds one space row
// and waits for the next completes, and so does the write. Activation
// locked the space it activated first and the active one second, the
// reverse of a chunk write's order, and one of the two died of a
// deadlock (seen in e2e TestEmbeddingModelChangeUnderLoad).
func TestSpaceChangesDoNotDeadlockChunkWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(ctx context.Context, db *postgres.DB, s2 int64) error
		op    func(ctx context.Context, db *postgres.DB, s2 int64) error
	}{
		{"activate", nil, func(ctx context.Context, db *postgres.DB, s2 int64) error {
			_, err := db.ActivateSpace(ctx, s2, "", true)
			return err
		}},
		{"roll back", func(ctx context.Context, db *postgres.DB, s2 int64) error {
			_, err := db.ActivateSpace(ctx, s2, "", true)
			return err
		}, func(ctx context.Context, db *postgres.DB, _ int64) error {
			_, err := db.RollbackSpace(ctx, "")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testenv.NewDB(t, dims)
			ctx := context.Background()
			s2, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 8})
			if err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				if err := tc.setup(ctx, db, s2.ID); err != nil {
					t.Fatal(err)
				}
			}
			// The chunk write, holding the first space and about to take the second.
			tx, err := db.Pool().Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, `SELECT id FROM embedding_spaces WHERE id = 1 FOR SHARE`); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tc.op(ctx, db, s2.ID) }()
			waitForLockWait(t, db)
			if _, err := tx.Exec(ctx, `SELECT id FROM embedding_spaces WHERE id = $1 FOR SHARE`, s2.ID); err != nil {
				t.Fatalf("chunk write's second space: %v", err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("%s during a chunk write: %v", tc.name, err)
			}
		})
	}
}

// waitForLockWait returns once some session of db's database waits for a
// lock.
func waitForLockWait(t *testing.T, db *postgres.DB) {
	t.Helper()
	for range 500 {
		var n int
		if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no session waits for a lock")
}
