package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

// takeOver makes a second attempt claim the job, as the reaper and a
// redelivery do after the first attempt's worker stopped beating.
func takeOver(t *testing.T, db *postgres.DB, j protostar.Job) protostar.Job {
	t.Helper()
	ctx := context.Background()
	if err := db.RetryJob(ctx, j.ID, j.Attempts, "interrupted: worker lost"); err != nil {
		t.Fatal(err)
	}
	j2, err := db.StartJob(ctx, j.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return j2
}

func chunkRows(n int) []protostar.Chunk {
	rows := make([]protostar.Chunk, n)
	for i := range rows {
		rows[i] = protostar.Chunk{Ordinal: i, Text: "t", Hash: []byte{byte(i)}, Embeddings: map[int64][]float32{1: {1, 0, 0, 0}}, Terms: "t"}
	}
	return rows
}

// TestReplacedAttemptCannotWrite: an attempt whose worker was frozen (and
// replaced) and then continues can neither delete the rows of the attempt
// that replaced it nor add rows to them. It used to do both: fault
// scenario 7 ended with a ready document whose active version had fewer
// rows than its chunk_count.
func TestReplacedAttemptCannotWrite(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d, j1 := submitStarted(t, db, "a", "frozen.md")
	set := func(j protostar.Job) protostar.ChunkSet {
		return protostar.ChunkSet{TenantID: "a", DocumentID: d.ID, Version: j.Version,
			JobID: j.ID, Attempt: j.Attempts}
	}
	if err := db.CopyChunks(ctx, set(j1), chunkRows(1)); err != nil {
		t.Fatal(err)
	}
	j2 := takeOver(t, db, j1)
	if err := db.DeleteVersion(ctx, set(j2)); err != nil {
		t.Fatal(err)
	}
	if err := db.CopyChunks(ctx, set(j2), chunkRows(3)); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ActivateVersion(ctx, j2, protostar.Indexed{Chunks: 3}); !ok || err != nil {
		t.Fatalf("activate: %v %v", ok, err)
	}
	// The first attempt's worker continues.
	if err := db.DeleteVersion(ctx, set(j1)); !errors.Is(err, protostar.ErrJobNotClaimable) {
		t.Errorf("replaced attempt's DeleteVersion = %v, want not claimable", err)
	}
	if err := db.CopyChunks(ctx, set(j1), chunkRows(3)); !errors.Is(err, protostar.ErrJobNotClaimable) {
		t.Errorf("replaced attempt's CopyChunks = %v, want not claimable", err)
	}
	if n := rowsOf(t, db, d.ID, j2.Version); n != 3 {
		t.Fatalf("active version has %d rows, want its 3", n)
	}
}

// TestClaimDuringCopyRollsTheCopyBack: a newer attempt that claims the job
// while an older attempt's COPY is in flight wins: the COPY's fence, checked
// after the rows are sent, fails and the rows are rolled back, so nothing
// the older attempt wrote survives next to the newer attempt's rows.
func TestClaimDuringCopyRollsTheCopyBack(t *testing.T) {
	t.Parallel()
	hook := &beforeStatement{marker: "FOR SHARE"}
	db := testenv.NewDB(t, dims, postgres.WithTracer(hook))
	ctx := context.Background()
	d, j1 := submitStarted(t, db, "a", "race.md")
	hook.fn = func() { takeOver(t, db, j1) }
	err := db.CopyChunks(ctx, protostar.ChunkSet{TenantID: "a", DocumentID: d.ID, Version: j1.Version, JobID: j1.ID, Attempt: j1.Attempts}, chunkRows(2))
	if !errors.Is(err, protostar.ErrJobNotClaimable) {
		t.Fatalf("CopyChunks of the replaced attempt = %v, want not claimable", err)
	}
	if n := rowsOf(t, db, d.ID, j1.Version); n != 0 {
		t.Fatalf("%d rows of the replaced attempt survived", n)
	}
}
