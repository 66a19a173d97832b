package postgres_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

// A space switched to a halfvec index finds what it found with a vector
// index, through its own index, and switches back; the index type is
// recorded on the space, and no index is left over.
func TestReindexSpaceHalfvec(t *testing.T) {
	t.Parallel()
	const dims = 64
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	loadHashChunks(t, db, dims, 8, 50, func(d, i int) string {
		return fmt.Sprintf("문서 %d 단락 %d term%d term%d backup%d", d, i, (d*50+i)%97, (d+i)%31, i%7)
	})
	emb, _ := hashembed.New(dims)
	queries, _ := emb.Embed(ctx, []string{"term5 backup3", "문서 3 단락", "term17 term40", "backup1 term2 단락 9", "term88"})
	vector := space1(t, db)
	if vector.Index != protostar.IndexVector {
		t.Fatalf("a new database's space has index %q, want vector", vector.Index)
	}
	before := searchScores(t, db, vector, queries)
	var steps []string
	half, err := db.ReindexSpace(ctx, 1, protostar.IndexHalfvec, 0, func(s string) { steps = append(steps, s) })
	if err != nil || half.Index != protostar.IndexHalfvec {
		t.Fatalf("reindex to halfvec = %+v, %v", half, err)
	}
	if len(steps) != 3 {
		t.Errorf("progress = %q, want build, built, switched", steps)
	}
	if def := indexDefs(t, db); len(def) != 1 || !strings.Contains(def["chunk_embeddings_space_1"], "halfvec_cosine_ops") {
		t.Fatalf("indexes after the switch = %v, want chunk_embeddings_space_1 over halfvec alone", def)
	}
	if plan := explainSpace(t, db, half, queries[0]); !strings.Contains(plan, "Index Scan using chunk_embeddings_space_1 ") {
		t.Fatalf("the halfvec space's search does not use its index:\n%s", plan)
	}
	sameHits(t, before, searchScores(t, db, half, queries))
	back, err := db.ReindexSpace(ctx, 1, protostar.IndexVector, 0, nil)
	if err != nil || back.Index != protostar.IndexVector {
		t.Fatalf("reindex back to vector = %+v, %v", back, err)
	}
	if plan := explainSpace(t, db, back, queries[0]); !strings.Contains(plan, "Index Scan using chunk_embeddings_space_1 ") {
		t.Fatalf("the vector space's search does not use its index:\n%s", plan)
	}
	sameHits(t, before, searchScores(t, db, back, queries))
}

// Index choices a space cannot have are refused with what to do.
func TestSpaceIndexRefused(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, 8)
	ctx := context.Background()
	tests := []struct {
		name string
		do   func() error
		code string
	}{
		{"an unknown index type", func() error {
			_, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 16, Index: "pq"})
			return err
		}, protostar.EINVALID},
		{"a vector index above 2000 dimensions", func() error {
			_, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 3072, Index: "vector"})
			return err
		}, protostar.EINVALID},
		{"reindex to an unknown type", func() error { _, err := db.ReindexSpace(ctx, 1, "pq", 0, nil); return err }, protostar.EINVALID},
		{"reindex of an unknown space", func() error { _, err := db.ReindexSpace(ctx, 99, "halfvec", 0, nil); return err }, protostar.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); protostar.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
	s, err := db.CreateSpace(ctx, protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 16, Index: "halfvec"})
	if err != nil || s.Index != protostar.IndexHalfvec {
		t.Fatalf("create a halfvec space = %+v, %v", s, err)
	}
	if def := indexDefs(t, db)[fmt.Sprintf("chunk_embeddings_space_%d", s.ID)]; !strings.Contains(def, "halfvec(16)") {
		t.Fatalf("the halfvec space's index is %q", def)
	}
}

// A new database configured for halfvec (PROTOSTAR_VECTOR_INDEX) starts
// with a halfvec space.
func TestFirstSpaceHalfvec(t *testing.T) {
	t.Parallel()
	spec := hashSpec(8)
	spec.Index = protostar.IndexHalfvec
	db, err := testenv.OpenMigratedSpace(context.Background(), testenv.NewDatabase(t), spec, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if s := space1(t, db); s.Index != protostar.IndexHalfvec {
		t.Fatalf("first space's index = %q, want halfvec", s.Index)
	}
	if def := indexDefs(t, db)["chunk_embeddings_space_1"]; !strings.Contains(def, "halfvec(8)") {
		t.Fatalf("the first space's index is %q", def)
	}
}

// loadHashChunks writes docs documents of perDoc chunks, text(d, i)
// each, with their hash vectors in space 1, as tenant a's ready documents,
// and analyzes the tables.
func loadHashChunks(t testing.TB, db *postgres.DB, dims, docs, perDoc int, text func(d, i int) string) {
	t.Helper()
	ctx := context.Background()
	emb, _ := hashembed.New(dims)
	var sets []postgres.SetRows
	for d := range docs {
		id := fmt.Sprintf("00000000-0000-0000-0000-%012d", d+1)
		if _, err := db.Pool().Exec(ctx, `INSERT INTO documents (id, tenant_id, key, status, indexed_version) VALUES ($1, 'a', $2, 'ready', 1)`,
			id, fmt.Sprintf("doc-%d.md", d)); err != nil {
			t.Fatal(err)
		}
		texts := make([]string, perDoc)
		rows := make([]protostar.Chunk, perDoc)
		for i := range rows {
			texts[i] = text(d, i)
			rows[i] = protostar.Chunk{Ordinal: i, Text: texts[i], Hash: []byte{byte(d), byte(i)}, Terms: texts[i]}
		}
		vecs, _ := emb.Embed(ctx, texts)
		for i := range rows {
			rows[i].Embeddings = map[int64][]float32{1: vecs[i]}
		}
		sets = append(sets, postgres.SetRows{Set: protostar.ChunkSet{TenantID: "a", DocumentID: id, Version: 1}, Rows: rows})
	}
	if _, err := db.CopyChunkSets(ctx, sets); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `ANALYZE documents; ANALYZE chunks; ANALYZE chunk_embeddings`); err != nil {
		t.Fatal(err)
	}
}

// searchScores returns each query's top 10 scores in the space.
func searchScores(t *testing.T, db *postgres.DB, s protostar.EmbeddingSpace, queries [][]float32) [][]float64 {
	t.Helper()
	var out [][]float64
	for _, q := range queries {
		hits, err := db.VectorSearch(context.Background(), s, "a", q, protostar.SearchFilter{}, 10)
		if err != nil || len(hits) != 10 {
			t.Fatalf("search in the %s space: %d hits, %v", s.Index, len(hits), err)
		}
		var scores []float64
		for _, h := range hits {
			scores = append(scores, h.Score)
		}
		out = append(out, scores)
	}
	return out
}

// sameHits checks that each query found chunks of the same full-precision
// scores, rank by rank: the same hits, except that which of several chunks
// of equal distance comes first is arbitrary (the generated chunks share
// many terms).
func sameHits(t *testing.T, want, got [][]float64) {
	t.Helper()
	for i := range want {
		for r := range want[i] {
			if math.Abs(want[i][r]-got[i][r]) > 1e-6 {
				t.Errorf("query %d: scores %v, want %v", i, got[i], want[i])
				break
			}
		}
	}
}

// indexDefs returns the definitions of the HNSW indexes of chunk_embeddings.
func indexDefs(t *testing.T, db *postgres.DB) map[string]string {
	t.Helper()
	rows, err := db.Pool().Query(context.Background(), `SELECT indexname, indexdef FROM pg_indexes
		WHERE tablename = 'chunk_embeddings' AND indexdef LIKE '%hnsw%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		out[name] = def
	}
	return out
}

// explainSpace returns the plan of VectorSearch's statement in the space,
// sequential scans and sorts disabled, so that the HNSW index is the plan
// if its expression matches the statement's (on so few rows the planner
// would rather sort).
func explainSpace(t *testing.T, db *postgres.DB, s protostar.EmbeddingSpace, q []float32) string {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN `+postgres.VectorSearchSQL(s), "a", pgvector.NewVector(q), []string{}, "", "{}", 10)
	if err != nil {
		t.Fatal(err)
	}
	return planText(t, rows)
}

// planText joins the lines of an EXPLAIN's rows.
func planText(t testing.TB, rows pgx.Rows) string {
	t.Helper()
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
