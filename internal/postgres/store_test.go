package postgres_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

const dims = 4

// indexDoc submits a document and activates one version with the given
// chunk texts, as the ingest worker would.
func indexDoc(t *testing.T, db *postgres.DB, tenant, key string, meta string, texts ...string) protostar.Document {
	t.Helper()
	ctx := context.Background()
	d, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: tenant, Key: key, Metadata: json.RawMessage(meta), MaxAttempts: 4})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = db.StartJob(ctx, j.ID, 0); err != nil {
		t.Fatal(err)
	}
	rows := make([]protostar.Chunk, len(texts))
	for i, text := range texts {
		rows[i] = protostar.Chunk{Ordinal: i, HeadingPath: []string{key}, Text: text, Hash: []byte{byte(i)},
			Embeddings: map[int64][]float32{1: []float32{1, float32(i), 0.5, 0.25}}, Terms: joinTerms(text), TermCount: len(lexical.IndexTerms(text))}
	}
	set := protostar.ChunkSet{TenantID: tenant, DocumentID: d.ID, Version: j.Version, JobID: j.ID, Attempt: j.Attempts}
	if err := db.CopyChunks(ctx, set, rows); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ActivateVersion(ctx, j, protostar.Indexed{Chunks: len(rows)}); err != nil || !ok {
		t.Fatalf("activate: %v %v", ok, err)
	}
	fold(t, db)
	d, _ = db.Document(ctx, tenant, d.ID)
	return d
}

// fold folds every pending term statistics change, as the outbox loop does.
func fold(t *testing.T, db *postgres.DB) {
	t.Helper()
	if _, err := db.FoldTermStats(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func joinTerms(s string) string {
	return strings.Join(lexical.IndexTerms(s), " ")
}

// keywordQuery is a plain BM25 query for q: each index term weighs as
// often as it occurs.
func keywordQuery(q string) protostar.KeywordQuery {
	kq := protostar.KeywordQuery{BM25: protostar.BM25{K1: protostar.DefaultBM25K1, B: protostar.DefaultBM25B}}
	for _, t := range lexical.IndexTerms(q) {
		if i := slices.Index(kq.Terms, t); i >= 0 {
			kq.Weights[i]++
			continue
		}
		kq.Terms, kq.Weights = append(kq.Terms, t), append(kq.Weights, 1)
	}
	return kq
}

func TestSearchIsTenantScopedAndFiltersAreParameters(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	a := indexDoc(t, db, "a", "docs/x.md", `{"team":"infra"}`, "우리는 데이터베이스를 튜닝했다", "backup schedule nightly")
	indexDoc(t, db, "b", "docs/x.md", `{"team":"infra"}`, "데이터베이스 secrets of tenant b")
	vec := []float32{1, 0, 0.5, 0.25}

	hits, err := db.KeywordSearch(ctx, "a", keywordQuery("데이터베이스"), protostar.SearchFilter{}, 10)
	if err != nil || len(hits) != 1 || hits[0].DocumentID != a.ID {
		t.Fatalf("keyword hits for the stem = %+v, %v", hits, err)
	}
	vhits, err := db.VectorSearch(ctx, space1(t, db), "a", vec, protostar.SearchFilter{}, 10)
	if err != nil || len(vhits) != 2 {
		t.Fatalf("vector hits = %+v, %v", vhits, err)
	}
	for _, h := range append(hits, vhits...) {
		if h.DocumentID != a.ID {
			t.Fatalf("tenant a sees %+v", h)
		}
	}
	injections := []protostar.SearchFilter{
		{KeyPrefix: "' OR 1=1 --"},
		{KeyPrefix: "%"},
		{Metadata: map[string]string{"team' OR '1'='1": "x"}},
		{Metadata: map[string]string{"team": "infra\"}' OR tenant_id <> 'a"}},
	}
	for _, f := range injections {
		hits, err := db.VectorSearch(ctx, space1(t, db), "a", vec, f, 10)
		if err != nil || len(hits) != 0 {
			t.Errorf("filter %+v: %d hits, %v; want none", f, len(hits), err)
		}
	}
	if hits, _ := db.VectorSearch(ctx, space1(t, db), "a", vec, protostar.SearchFilter{Metadata: map[string]string{"team": "infra"}, KeyPrefix: "docs/"}, 10); len(hits) != 2 {
		t.Errorf("matching filter found %d hits, want 2", len(hits))
	}
	if _, err := db.VectorSearch(ctx, space1(t, db), "a", vec, protostar.SearchFilter{DocumentIDs: []string{"1; DROP TABLE chunks"}}, 10); protostar.ErrorCode(err) != protostar.EINVALID {
		t.Errorf("bad document id filter: %v, want invalid", err)
	}
}

func TestVersionsSwapAtomically(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d := indexDoc(t, db, "a", "v.md", `{}`, "old text one", "old text two")
	// A second version is written but not activated: search still sees v1.
	d2, j2, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "v.md", MaxAttempts: 4})
	if err != nil || d2.ID != d.ID || d2.Version != 2 {
		t.Fatalf("resubmit = %+v, %v", d2, err)
	}
	if j2, err = db.StartJob(ctx, j2.ID, 0); err != nil {
		t.Fatal(err)
	}
	set := protostar.ChunkSet{TenantID: "a", DocumentID: d.ID, Version: 2, JobID: j2.ID, Attempt: j2.Attempts}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{{Ordinal: 0, Text: "new text", Hash: []byte{9}, Embeddings: map[int64][]float32{1: []float32{1, 1, 1, 1}}, Terms: "new text"}}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		hits, err := db.VectorSearch(ctx, space1(t, db), "a", []float32{1, 1, 1, 1}, protostar.SearchFilter{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(hits)
	}
	if n := count(); n != 2 {
		t.Fatalf("before activation: %d hits, want the 2 old chunks", n)
	}
	if ok, err := db.ActivateVersion(ctx, j2, protostar.Indexed{Chunks: 1}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after activation: %d hits, want the 1 new chunk", n)
	}
	if n, err := db.PurgeStale(ctx, 100); err != nil || n != 2 {
		t.Fatalf("purged %d, %v; want the 2 old rows", n, err)
	}
	reuse, err := db.ReusableEmbeddings(ctx, d.ID, 2, 1, [][]byte{{9}, {7}})
	if err != nil || len(reuse) != 1 {
		t.Fatalf("reusable = %v, %v", reuse, err)
	}
}

func TestDocumentPaging(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	for _, k := range []string{"a.md", "b.md", "c.md", "d.md", "e.md"} {
		if _, _, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: k, MaxAttempts: 4}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		docs, next, err := db.Documents(ctx, "a", protostar.DocumentFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if seen[d.Key] {
				t.Fatalf("%s listed twice", d.Key)
			}
			seen[d.Key] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d documents, want 5", len(seen))
	}
	if _, _, err := db.Documents(ctx, "a", protostar.DocumentFilter{Limit: 2, Cursor: "garbage"}); protostar.ErrorCode(err) != protostar.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
	if docs, _, _ := db.Documents(ctx, "b", protostar.DocumentFilter{Limit: 10}); len(docs) != 0 {
		t.Fatalf("tenant b lists %d of a's documents", len(docs))
	}
}

// TestPurgeAfterFailedFirstVersion: rows a failed attempt wrote are purged,
// even when no version was ever active before.
func TestPurgeAfterFailedFirstVersion(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	d, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "f.md", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = db.StartJob(ctx, j.ID, 0); err != nil {
		t.Fatal(err)
	}
	set := protostar.ChunkSet{TenantID: "a", DocumentID: d.ID, Version: 1, JobID: j.ID, Attempt: j.Attempts}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{{Hash: []byte{1}, Embeddings: map[int64][]float32{1: []float32{1, 0, 0, 0}}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.FailJob(ctx, j, "object vanished"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PurgeStale(ctx, 100); err != nil || n != 1 {
		t.Fatalf("after the failure: purged %d, %v; want the failed version's row", n, err)
	}
	indexDoc(t, db, "a", "f.md", `{}`, "second version")
	if n, err := db.PurgeStale(ctx, 100); err != nil || n != 0 {
		t.Fatalf("after activation: purged %d, %v; want nothing (the active version stays)", n, err)
	}
}

func TestJobBacklog(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	var jobs []protostar.Job
	for _, s := range []protostar.Submission{{TenantID: "a", Key: "1.md"}, {TenantID: "b", Key: "2.md"}, {TenantID: "b", Key: "3.md"}} {
		s.MaxAttempts = 3
		_, j, err := db.SubmitDocument(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	if _, err := db.StartJob(ctx, jobs[0].ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.CancelJob(ctx, jobs[1].ID, "finished jobs are not backlog"); err != nil {
		t.Fatal(err)
	}
	got, err := db.JobBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Status != protostar.JobQueued || got[1].Status != protostar.JobRunning {
		t.Fatalf("backlog = %+v, want one queued and one running ingest job", got)
	}
	for _, b := range got {
		if b.Type != protostar.JobIngest || b.Count != 1 || b.OldestAge < 0 || b.OldestAge > time.Minute {
			t.Errorf("backlog row %+v, want 1 ingest job submitted just now", b)
		}
	}
}

// space1 is the space a fresh test database starts with.
func space1(t *testing.T, db *postgres.DB) protostar.EmbeddingSpace {
	t.Helper()
	s, err := db.Space(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
