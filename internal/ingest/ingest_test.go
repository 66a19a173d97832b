package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/embedspace"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/ingest"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/s3"
	"github.com/protostar/protostar/internal/testenv"
	"github.com/protostar/protostar/internal/worker"
)

type fixture struct {
	db    *postgres.DB
	store *s3.Store
	svc   *ingest.Service
}

func setup(t *testing.T) fixture {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	db := testenv.NewDB(t, 16)
	cfg := testenv.NewS3(t)
	store, err := s3.New(logger, s3.Config{Endpoint: cfg.Endpoint, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, Bucket: cfg.Bucket, CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := hashembed.New(16)
	svc, err := ingest.New(logger, db, store, spacesOf(db, emb), worker.NewRunner(logger, db, worker.RunnerConfig{StaleAfter: time.Minute}, nil), ingest.Config{MaxTokens: 64, OverlapTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{db, store, svc}
}

func (f fixture) put(t *testing.T, key, content string) {
	t.Helper()
	if _, err := f.store.Put(context.Background(), protostar.ObjectKey("t", key), strings.NewReader(content), int64(len(content)), ""); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) submit(t *testing.T, key string, force bool) protostar.Job {
	t.Helper()
	_, j, err := f.db.SubmitDocument(context.Background(), protostar.Submission{TenantID: "t", Key: key, Force: force, MaxAttempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (f fixture) run(t *testing.T, j protostar.Job) (protostar.Job, protostar.IngestResult) {
	t.Helper()
	ctx := context.Background()
	if err := f.svc.Handle(ctx, j.ID); err != nil {
		t.Fatalf("handle: %v", err)
	}
	got, err := f.db.JobByID(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var res protostar.IngestResult
	_ = json.Unmarshal(got.Result, &res)
	return got, res
}

const doc = "# 가이드\n\n첫 문단이다. It has two languages.\n\n## 설치\n\n설치는 간단하다. Run the installer.\n\n## 운영\n\n운영은 어렵다. Watch the metrics.\n"

func TestUnchangedObjectSkipsWorkAndForcedReindexReusesEmbeddings(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.put(t, "g.md", doc)
	_, first := f.run(t, f.submit(t, "g.md", false))
	if first.ChunksTotal == 0 || first.ChunksEmbedded != first.ChunksTotal {
		t.Fatalf("first ingest = %+v", first)
	}
	j, same := f.run(t, f.submit(t, "g.md", false))
	if j.Status != protostar.JobSucceeded || same.BytesRead != 0 || same.ChunksReused != first.ChunksTotal || same.ChunksEmbedded != 0 {
		t.Fatalf("unchanged object: job %s, result %+v", j.Status, same)
	}
	_, forced := f.run(t, f.submit(t, "g.md", true))
	if forced.BytesRead != int64(len(doc)) || forced.ChunksEmbedded != 0 || forced.ChunksReused != first.ChunksTotal {
		t.Fatalf("forced reindex of the same content = %+v", forced)
	}
}

func TestSupersededAndDeletedJobsAreCanceled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.put(t, "s.md", doc)
	old := f.submit(t, "s.md", false)
	newer := f.submit(t, "s.md", false)
	if j, _ := f.run(t, old); j.Status != protostar.JobCanceled || !strings.Contains(j.Error, "superseded") {
		t.Fatalf("old version's job = %s %q", j.Status, j.Error)
	}
	if j, _ := f.run(t, newer); j.Status != protostar.JobSucceeded {
		t.Fatalf("newest job = %s %q", j.Status, j.Error)
	}

	f.put(t, "d.md", doc)
	j := f.submit(t, "d.md", false)
	if err := f.db.DeleteDocument(context.Background(), "t", j.DocumentID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Handle(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.db.JobByID(context.Background(), j.ID); got.Status != protostar.JobCanceled {
		t.Fatalf("job of a deleted document = %s", got.Status)
	}
}

// spacesOf gives every embedding space of db the embedder emb.
func spacesOf(db *postgres.DB, emb protostar.Embedder) *embedspace.Registry {
	return embedspace.NewRegistry(slog.New(slog.DiscardHandler), db, func(protostar.SpaceSpec) (protostar.Embedder, error) { return emb, nil })
}

// panickyEmbedder panics, as a bug in a provider adapter might.
type panickyEmbedder struct{ protostar.Embedder }

func (panickyEmbedder) Embed(context.Context, []string) ([][]float32, error) { panic("nil map") }

// TestBatchWriterPanicFailsTheAttempt: a panic in the batch writer's
// goroutine fails that attempt (retried, then failed) instead of killing
// the worker process, and job.error does not leak the panic.
func TestBatchWriterPanicFailsTheAttempt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	logger := slog.New(slog.DiscardHandler)
	emb, _ := hashembed.New(16)
	svc, err := ingest.New(logger, f.db, f.store, spacesOf(f.db, panickyEmbedder{emb}), worker.NewRunner(logger, f.db, worker.RunnerConfig{StaleAfter: time.Minute}, nil),
		ingest.Config{MaxTokens: 64, OverlapTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, "p.md", doc)
	j := f.submit(t, "p.md", false)
	if err := svc.Handle(context.Background(), j.ID); err == nil {
		t.Fatal("handle: no error, want the attempt to fail")
	}
	got, _ := f.db.JobByID(context.Background(), j.ID)
	if got.Status != protostar.JobQueued || got.Error != "attempt 1 of 4 failed, retrying: internal error" {
		t.Fatalf("job = %q %q, want queued for a retry with an internal error", got.Status, got.Error)
	}
}

// TestBadFrontMatterFailsAtOnce: front matter is metadata and is held to
// the same limits. A NUL or deep nesting used to reach jsonb, fail as an
// internal error with the driver's text in job.error, and be retried.
func TestBadFrontMatterFailsAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, fm, wantErr string }{
		{"NUL", "title: \"a\\0b\"\n", "NUL"},
		{"deep", "a: {b: {c: {d: {e: {f: 1}}}}}\n", "nests deeper"},
		{"many keys", strings.Repeat("k: 1\n", 1) + manyKeys(100), "at most 64"},
	}
	f := setup(t)
	for _, tt := range tests {
		key := "fm-" + tt.name + ".md"
		f.put(t, key, "---\n"+tt.fm+"---\n# Title\n\nBody text.\n")
		j, _ := f.run(t, f.submit(t, key, false))
		if j.Status != protostar.JobFailed || j.Attempts != 1 || !strings.Contains(j.Error, "front matter") || !strings.Contains(j.Error, tt.wantErr) {
			t.Errorf("%s: job = %q after %d attempts, error %q; want failed at once naming front matter and %q", tt.name, j.Status, j.Attempts, j.Error, tt.wantErr)
		}
	}
}

// TestHostileFrontMatterIsText: front matter that would expand without
// bound (YAML aliases nested nine deep, 9^9 values) or holds a value over
// the 64 KiB front-matter cap is not decoded: the document is indexed with
// those lines as text, nothing lost, and no metadata comes of it.
func TestHostileFrontMatterIsText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, fm, inText string }{
		{"alias bomb", aliasBomb(9), "l8"},
		{"huge value", "title: " + strings.Repeat("v", 100<<10) + "\n", "vvvv"},
	}
	f := setup(t)
	for _, tt := range tests {
		key := "fm-" + strings.ReplaceAll(tt.name, " ", "-") + ".md"
		f.put(t, key, "---\n"+tt.fm+"---\n# Title\n\nBody text.\n")
		j, res := f.run(t, f.submit(t, key, false))
		if j.Status != protostar.JobSucceeded || j.Attempts != 1 || res.ChunksTotal == 0 {
			t.Fatalf("%s: job %q after %d attempts (%q), %d chunks; want succeeded at once", tt.name, j.Status, j.Attempts, j.Error, res.ChunksTotal)
		}
		d, err := f.db.Document(context.Background(), "t", j.DocumentID)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Metadata) != "{}" {
			t.Errorf("%s: metadata %.200s; want none from the front matter", tt.name, d.Metadata)
		}
		var text string
		if err := f.db.Pool().QueryRow(context.Background(), `SELECT string_agg(text, ' ') FROM chunks WHERE document_id = $1`, j.DocumentID).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tt.inText) || !strings.Contains(text, "Body text.") {
			t.Errorf("%s: the front matter or the body is not in the chunks", tt.name)
		}
	}
}

// aliasBomb is front matter whose aliases expand to 9^levels values (the
// "billion laughs").
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < levels; i++ {
		p := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(p+", ", 9), ", "))
	}
	return b.String()
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "key%d: %d\n", i, i)
	}
	return b.String()
}

// TestChunkCapFailsAtOnce: a document over PROTOSTAR_MAX_CHUNKS_PER_DOCUMENT
// fails at once with an error naming the limit, and the ready version it
// would have replaced keeps serving.
func TestChunkCapFailsAtOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	logger := slog.New(slog.DiscardHandler)
	emb, _ := hashembed.New(16)
	svc, err := ingest.New(logger, f.db, f.store, spacesOf(f.db, emb), worker.NewRunner(logger, f.db, worker.RunnerConfig{StaleAfter: time.Minute}, nil),
		ingest.Config{MaxTokens: 64, OverlapTokens: 8, MaxChunks: 5})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.put(t, "cap.md", doc)
	if j, _ := f.run(t, f.submit(t, "cap.md", false)); j.Status != protostar.JobSucceeded {
		t.Fatalf("small version: %+v", j)
	}
	f.put(t, "cap.md", strings.Repeat("A sentence that fills the chunk budget with words. ", 200))
	j, _ := f.run(t, f.submit(t, "cap.md", false))
	if j.Status != protostar.JobFailed || j.Attempts != 1 || !strings.Contains(j.Error, "PROTOSTAR_MAX_CHUNKS_PER_DOCUMENT") {
		t.Fatalf("over the cap: job %q after %d attempts, error %q", j.Status, j.Attempts, j.Error)
	}
	d, _ := f.db.Document(context.Background(), "t", j.DocumentID)
	if d.IndexedVersion != 1 || d.ChunkCount == 0 {
		t.Fatalf("document after the refused version = %+v, want version 1 still indexed", d)
	}
}

// TestSettingsChangeDefeatsTheETagShortcut: an unchanged object is indexed
// again after a change of chunk settings (or embedding model): its chunks
// would differ. The ETag shortcut used to keep the old version.
func TestSettingsChangeDefeatsTheETagShortcut(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.put(t, "fp.md", doc)
	if _, first := f.run(t, f.submit(t, "fp.md", false)); first.ChunksTotal == 0 {
		t.Fatalf("first ingest = %+v", first)
	}
	logger := slog.New(slog.DiscardHandler)
	emb, _ := hashembed.New(16)
	svc, err := ingest.New(logger, f.db, f.store, spacesOf(f.db, emb), worker.NewRunner(logger, f.db, worker.RunnerConfig{StaleAfter: time.Minute}, nil),
		ingest.Config{MaxTokens: 128, OverlapTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	if j, again := f.run(t, f.submit(t, "fp.md", false)); j.Status != protostar.JobSucceeded || again.BytesRead != int64(len(doc)) {
		t.Fatalf("same object, new chunk budget: job %s, result %+v; want it read and indexed again", j.Status, again)
	}
	if _, same := f.run(t, f.submit(t, "fp.md", false)); same.BytesRead != 0 {
		t.Fatalf("same object, same settings: %+v; want the shortcut", same)
	}
}
