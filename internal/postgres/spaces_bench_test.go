package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

// BenchmarkVectorSearchSpaceVsColumn measures what reading vectors from
// chunk_embeddings through the space's partial expression index costs
// against the chunks.embedding column it replaced, on the same 10,000
// chunks (384-dimensional hash vectors) in one database, alternating, so
// that other load on the machine weighs on both alike:
//
//	go test ./internal/postgres -run '^$' -bench SpaceVsColumn -benchtime 2000x
func BenchmarkVectorSearchSpaceVsColumn(b *testing.B) {
	const dims, docs, perDoc = 384, 50, 200
	db := testenv.NewDB(b, dims)
	ctx := context.Background()
	emb, _ := hashembed.New(dims)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("데이터베이스 백업 복제 인덱스 검색 품질 노드 장애 복구 설정")
	text := func(n int) string { // Zipf-like: a few common words, many rare ones
		var sb strings.Builder
		for range n {
			if rng.IntN(4) == 0 {
				sb.WriteString(words[rng.IntN(len(words))] + " ")
			} else {
				fmt.Fprintf(&sb, "term%d ", int(rng.ExpFloat64()*800))
			}
		}
		return sb.String()
	}
	loadHashChunks(b, db, dims, docs, perDoc, func(int, int) string { return text(60) })
	// The same vectors in the old column, under its old HNSW index.
	if _, err := db.Pool().Exec(ctx, `UPDATE chunks c SET embedding = e.embedding FROM chunk_embeddings e WHERE e.chunk_id = c.id;
		ANALYZE chunks`); err != nil {
		b.Fatal(err)
	}
	space, err := db.Space(ctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"space", "column"} {
		plan := explainVector(ctx, b, db, q == "space")
		if !strings.Contains(plan, "Index Scan using chunk") {
			b.Fatalf("the %s search does not use its HNSW index:\n%s", q, plan)
		}
	}
	queries, _ := emb.Embed(ctx, []string{text(3), text(5), text(8), text(2), text(12), text(4), text(6), text(3)})
	b.Run("space", func(b *testing.B) {
		for i := range b.N {
			if hits, err := db.VectorSearch(ctx, space, "a", queries[i%len(queries)], protostar.SearchFilter{}, 10); err != nil || len(hits) != 10 {
				b.Fatalf("%d hits, %v", len(hits), err)
			}
		}
	})
	b.Run("column", func(b *testing.B) {
		for i := range b.N {
			if err := columnSearch(ctx, db, queries[i%len(queries)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// columnSearch is VectorSearch as it was before embedding spaces: the
// chunks.embedding column and its HNSW index.
func columnSearch(ctx context.Context, db *postgres.DB, vec []float32) error {
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
		set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', '100', true)`); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `WITH hits AS MATERIALIZED (
			SELECT c.id, c.document_id, d.key, c.heading_path, c.text, c.embedding <=> $2 AS distance
			FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE c.tenant_id = $1 AND d.deleted_at IS NULL AND c.version = d.indexed_version
			ORDER BY c.embedding <=> $2 LIMIT 10)
		SELECT id FROM hits ORDER BY distance`, "a", pgvector.NewVector(vec))
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() {
		n++
	}
	if n != 10 {
		return fmt.Errorf("%d hits", n)
	}
	return rows.Err()
}

// explainVector returns the plan of a vector search on the space or on
// the column.
func explainVector(ctx context.Context, b *testing.B, db *postgres.DB, space bool) string {
	order := `c.embedding <=> (SELECT embedding FROM chunks LIMIT 1)`
	from := `chunks c`
	if space {
		order = `(e.embedding::vector(384)) <=> (SELECT embedding::vector(384) FROM chunk_embeddings LIMIT 1)`
		from = `chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id AND e.space_id = 1`
	}
	rows, err := db.Pool().Query(ctx, `EXPLAIN SELECT c.id FROM `+from+` JOIN documents d ON d.id = c.document_id
		WHERE c.tenant_id = 'a' AND d.deleted_at IS NULL AND c.version = d.indexed_version ORDER BY `+order+` LIMIT 10`)
	if err != nil {
		b.Fatal(err)
	}
	return planText(b, rows)
}
