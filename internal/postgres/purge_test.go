package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

// beforeStatement runs fn once, just before the first statement whose SQL
// contains marker starts: a deterministic way to commit another
// transaction between two statements of the code under test.
type beforeStatement struct {
	marker string
	once   sync.Once
	fn     func()
}

func (b *beforeStatement) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if b.fn != nil && strings.Contains(d.SQL, b.marker) {
		b.once.Do(b.fn)
	}
	return ctx
}

func (b *beforeStatement) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestPurgeRacesActivation: a version activated while the purge runs keeps
// its rows. The purge used to read indexed_version first and delete
// "version <> what it read" later, so activation in between deleted the
// new active version's rows, leaving a ready document with no chunks.
func TestPurgeRacesActivation(t *testing.T) {
	t.Parallel()
	hook := &beforeStatement{marker: "DELETE FROM chunks"}
	db := testenv.NewDB(t, dims, postgres.WithTracer(hook))
	ctx := context.Background()
	d := indexDoc(t, db, "a", "race.md", `{}`, "old one", "old two")

	_, j2, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "race.md", MaxAttempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	if j2, err = db.StartJob(ctx, j2.ID, 0); err != nil {
		t.Fatal(err)
	}
	set := protostar.ChunkSet{TenantID: "a", DocumentID: d.ID, Version: 2, JobID: j2.ID, Attempt: j2.Attempts}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{{Ordinal: 0, Text: "new", Hash: []byte{9}, Embeddings: map[int64][]float32{1: []float32{1, 1, 1, 1}}, Terms: "new"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `UPDATE documents SET purge_pending = true WHERE id = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	hook.fn = func() {
		if ok, err := db.ActivateVersion(ctx, j2, protostar.Indexed{Chunks: 1}); !ok || err != nil {
			t.Errorf("activate during purge: %v %v", ok, err)
		}
	}
	for range 3 {
		if _, err := db.PurgeStale(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	var v1, v2 int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE version = 1), count(*) FILTER (WHERE version = 2)
		FROM chunks WHERE document_id = $1`, d.ID).Scan(&v1, &v2); err != nil {
		t.Fatal(err)
	}
	if v2 != 1 || v1 != 0 {
		t.Fatalf("after purge: %d rows of the active version 2 (want 1), %d of the old version 1 (want 0)", v2, v1)
	}
}

// TestStartJobPastMaxAttempts: whatever the queue delivers, no attempt
// past max_attempts starts; a queued job that has used them all (its last
// attempt was interrupted) fails instead of waiting forever.
func TestStartJobPastMaxAttempts(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "max.md", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = db.StartJob(ctx, j.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := db.RetryJob(ctx, j.ID, j.Attempts, "interrupted: worker stopped; will resume"); err != nil {
		t.Fatal(err)
	}
	got, err := db.StartJob(ctx, j.ID, 0)
	if !errors.Is(err, protostar.ErrJobNotClaimable) || got.Attempts != 1 || got.Status != protostar.JobFailed {
		t.Fatalf("StartJob past max_attempts = status %q attempts %d, %v; want failed, 1, not claimable", got.Status, got.Attempts, err)
	}
	if doc, _ := db.Document(ctx, "a", d.ID); doc.Status != protostar.DocumentFailed {
		t.Fatalf("document status %q, want failed", doc.Status)
	}
}

// TestReaperFlagsPurge: a job the reaper fails (its worker was lost on the
// last attempt) leaves its rows flagged for the purge, as FailJob does.
// They used to stay forever.
func TestReaperFlagsPurge(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "lost.md", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = db.StartJob(ctx, j.ID, 0); err != nil {
		t.Fatal(err)
	}
	set := protostar.ChunkSet{TenantID: "a", DocumentID: d.ID, Version: j.Version, JobID: j.ID, Attempt: j.Attempts}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{{Hash: []byte{1}, Embeddings: map[int64][]float32{1: []float32{1, 0, 0, 0}}}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if n, err := db.ReapStale(ctx, time.Millisecond, time.Hour); err != nil || n != 1 {
		t.Fatalf("reaped %d, %v; want the lost job", n, err)
	}
	if n, err := db.PurgeStale(ctx, 100); err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want the lost attempt's row", n, err)
	}
}

// TestMetadataChangeBumpsCorpus: re-tagging a document changes what a
// filtered search returns at once, so the corpus version (part of every
// answer and search cache key) must change. It used to stay, and cached
// filtered answers kept the re-tagged document for the TTL.
func TestMetadataChangeBumpsCorpus(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	indexDoc(t, db, "a", "tagged.md", `{"team":"infra"}`, "text")
	before, err := db.CorpusVersion(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "tagged.md", Metadata: []byte(`{"team":"sales"}`), MaxAttempts: 4}); err != nil {
		t.Fatal(err)
	}
	if after, _ := db.CorpusVersion(ctx, "a"); after == before {
		t.Fatalf("corpus version stayed %d after the metadata changed", after)
	}
}

// TestCreateJobReturnsTheActiveTwin: asking for the same summary twice
// while the first job is queued or running starts it once. Each request
// used to create a job of its own.
func TestCreateJobReturnsTheActiveTwin(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d := indexDoc(t, db, "a", "sum.md", `{}`, "text")
	job := func(length string) protostar.Job {
		j, err := db.CreateJob(ctx, protostar.Job{TenantID: "a", Type: protostar.JobSummary, DocumentID: d.ID, Version: d.IndexedVersion,
			Params: []byte(`{"length":"` + length + `"}`), MaxAttempts: 4}, 100)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	first, again, other := job("short"), job("short"), job("long")
	if again.ID != first.ID || other.ID == first.ID {
		t.Fatalf("jobs %s, %s (same length), %s (other length); want the first twice", first.ID, again.ID, other.ID)
	}
	if err := db.CancelJob(ctx, first.ID, "done with"); err != nil {
		t.Fatal(err)
	}
	if next := job("short"); next.ID == first.ID {
		t.Fatal("a finished job was returned instead of a new one")
	}
}

// TestPurgeRemovesDeletedDocumentsSummaries: deleting a document removed
// its chunks but kept its summaries forever.
func TestPurgeRemovesDeletedDocumentsSummaries(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d := indexDoc(t, db, "a", "gone.md", `{}`, "text")
	j, err := db.CreateJob(ctx, protostar.Job{TenantID: "a", Type: protostar.JobSummary, DocumentID: d.ID, Version: d.IndexedVersion, MaxAttempts: 4}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if j, err = db.StartJob(ctx, j.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveSummary(ctx, j, protostar.Summary{TenantID: "a", DocumentID: d.ID, Version: d.IndexedVersion,
		ContentHash: d.ContentHash, Length: "short", Model: "m", PromptVersion: "p", Text: "summary"}, protostar.SummaryResult{}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteDocument(ctx, "a", d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PurgeStale(ctx, 100); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM summaries WHERE document_id = $1`, d.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d summaries of the deleted document after the purge (%v), want 0", n, err)
	}
}

// TestPurgeRemovesUnusedSectionSummaries: a deleted document's section
// summaries outlived it (they are shared by content hash across the
// tenant's documents); the purge now deletes those no other document uses.
func TestPurgeRemovesUnusedSectionSummaries(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	gone := indexDoc(t, db, "a", "gone.md", `{}`, "text")
	kept := indexDoc(t, db, "a", "kept.md", `{}`, "text")
	own, shared := []byte("own-section"), []byte("shared-section")
	for _, s := range []struct {
		doc  string
		hash []byte
	}{{gone.ID, own}, {gone.ID, shared}} {
		if err := db.SaveSectionSummary(ctx, "a", s.doc, s.hash, "short", "m", "p", "secret text"); err != nil {
			t.Fatal(err)
		}
	}
	// kept.md reads the shared one from the cache, which records its use.
	if _, ok, err := db.SectionSummary(ctx, "a", kept.ID, shared, "short", "m", "p"); err != nil || !ok {
		t.Fatalf("cached section summary: %v %v", ok, err)
	}
	if err := db.DeleteDocument(ctx, "a", gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PurgeStale(ctx, 100); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		hash []byte
		want bool
	}{{own, false}, {shared, true}} {
		_, ok, err := db.SectionSummary(ctx, "a", kept.ID, tt.hash, "short", "m", "p")
		if err != nil || ok != tt.want {
			t.Errorf("section summary %s after the purge: present %v (%v), want %v", tt.hash, ok, err, tt.want)
		}
	}
}

// TestTenantChunkQuota: a tenant whose documents hold its quota of chunks
// gets ETOOLARGE for new work, before anything is stored; another tenant
// does not.
func TestTenantChunkQuota(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	indexDoc(t, db, "a", "full.md", `{}`, "one", "two", "three")
	_, _, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "more.md", MaxAttempts: 4, MaxChunks: 3})
	if protostar.ErrorCode(err) != protostar.ETOOLARGE {
		t.Fatalf("submission at the quota: %v, want ETOOLARGE", err)
	}
	if docs, _, _ := db.Documents(ctx, "a", protostar.DocumentFilter{Limit: 10}); len(docs) != 1 {
		t.Fatalf("tenant a has %d documents after the refusal, want 1", len(docs))
	}
	if _, _, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "b", Key: "more.md", MaxAttempts: 4, MaxChunks: 3}); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}

// startVersion submits a new version of key and starts its job, writing
// one row of that version as an attempt in progress would.
func startVersion(t *testing.T, db *postgres.DB, tenant, key string) protostar.Job {
	t.Helper()
	ctx := context.Background()
	d, j := submitStarted(t, db, tenant, key)
	set := protostar.ChunkSet{TenantID: tenant, DocumentID: d.ID, Version: j.Version, JobID: j.ID, Attempt: j.Attempts}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{{Text: "partial", Hash: []byte{7}, Embeddings: map[int64][]float32{1: []float32{1, 0, 0, 0}}}}); err != nil {
		t.Fatal(err)
	}
	return j
}

// submitStarted submits key and starts the first attempt of its job.
func submitStarted(t *testing.T, db *postgres.DB, tenant, key string) (protostar.Document, protostar.Job) {
	t.Helper()
	ctx := context.Background()
	d, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: tenant, Key: key, MaxAttempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = db.StartJob(ctx, j.ID, 0); err != nil {
		t.Fatal(err)
	}
	return d, j
}

// rowsOf counts the chunk rows of one version of a document.
func rowsOf(t *testing.T, db *postgres.DB, documentID string, version int) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM chunks WHERE document_id = $1 AND version = $2`,
		documentID, version).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPurgeKeepsAFlagSetMeanwhile: a purge flag set while the purge runs
// (here a job of a newer version fails after the DELETE, leaving its rows)
// survives the purge's "done with this document". The purge used to clear
// the flag whenever indexed_version was unchanged, so the failed attempt's
// rows stayed forever.
func TestPurgeKeepsAFlagSetMeanwhile(t *testing.T) {
	t.Parallel()
	hook := &beforeStatement{marker: "purge_pending = false"}
	db := testenv.NewDB(t, dims, postgres.WithTracer(hook))
	ctx := context.Background()
	d := indexDoc(t, db, "a", "flag.md", `{}`, "one")
	j2 := startVersion(t, db, "a", "flag.md")
	if _, err := db.Pool().Exec(ctx, `UPDATE documents SET purge_pending = true WHERE id = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	hook.fn = func() {
		if err := db.FailJob(ctx, j2, "boom"); err != nil {
			t.Errorf("fail during purge: %v", err)
		}
	}
	for range 2 {
		if _, err := db.PurgeStale(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	if n := rowsOf(t, db, d.ID, 2); n != 0 {
		t.Fatalf("%d rows of the failed version 2 left after the purge", n)
	}
	if n := rowsOf(t, db, d.ID, 1); n != 1 {
		t.Fatalf("%d rows of the active version 1, want 1", n)
	}
}

// TestCanceledIngestFlagsPurge: an ingest job canceled because its
// document moved on (superseded or deleted) may hold rows from an earlier
// attempt; canceling flags them for the purge. They used to stay when the
// purge had already visited the document while the job was live.
func TestCanceledIngestFlagsPurge(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d := indexDoc(t, db, "a", "cancel.md", `{}`, "one")
	j2 := startVersion(t, db, "a", "cancel.md")
	indexDoc(t, db, "a", "cancel.md", `{}`, "three") // version 3 is active; 2 is still running
	if _, err := db.PurgeStale(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := rowsOf(t, db, d.ID, 2); n != 1 {
		t.Fatalf("the purge removed %d rows of a live job", 1-n)
	}
	if err := db.CancelJob(ctx, j2.ID, "superseded by version 3"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PurgeStale(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := rowsOf(t, db, d.ID, 2); n != 0 {
		t.Fatalf("%d rows of the canceled version 2 left after the purge", n)
	}
}
