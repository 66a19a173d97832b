package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

// bm25Reference scores every text of corpus for query with the BM25
// formula written out here, independently of the code under test.
func bm25Reference(corpus []string, query string) map[string]float64 {
	const k1, b = 1.2, 0.75
	docs := make([][]string, len(corpus))
	df := map[string]int{}
	total := 0
	for i, text := range corpus {
		docs[i] = lexical.IndexTerms(text)
		total += len(docs[i])
		seen := map[string]bool{}
		for _, t := range docs[i] {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	n, avg := float64(len(corpus)), float64(total)/float64(len(corpus))
	out := map[string]float64{}
	for i, terms := range docs {
		tf := map[string]int{}
		for _, t := range terms {
			tf[t]++
		}
		score := 0.0
		for _, q := range lexical.IndexTerms(query) { // repeated query terms count again
			if tf[q] == 0 {
				continue
			}
			idf := math.Log(1 + (n-float64(df[q])+0.5)/(float64(df[q])+0.5))
			f := float64(tf[q])
			score += idf * f * (k1 + 1) / (f + k1*(1-b+b*float64(len(terms))/avg))
		}
		if score > 0 {
			out[corpus[i]] = score
		}
	}
	return out
}

func TestBM25ScoresMatchReference(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	corpus := []string{
		"데이터베이스 인덱스를 튜닝하는 방법: indexes and vacuum",
		"인덱스 인덱스 인덱스. The index of the book",
		"백업은 매일 밤 실행된다. backups run nightly",
		"데이터베이스를 복제하는 replication 설정과 인덱스 재구축",
		"짧은 문서",
		"Vacuuming the database reclaims storage; autovacuum runs by default, and indexing continues",
	}
	indexDoc(t, db, "a", "one.md", `{}`, corpus[:3]...)
	indexDoc(t, db, "a", "two.md", `{}`, corpus[3:]...)
	for _, q := range []string{"데이터베이스 인덱스", "indexes", "vacuum database", "백업 실행은 언제", "인덱스 인덱스 index", "nothing matches 없음"} {
		want := bm25Reference(corpus, q)
		hits, err := db.KeywordSearch(ctx, "a", keywordQuery(q), protostar.SearchFilter{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != len(want) {
			t.Errorf("%q: %d hits, want %d (%v)", q, len(hits), len(want), want)
		}
		for i, h := range hits {
			if math.Abs(h.Score-want[h.Text]) > 1e-6 {
				t.Errorf("%q: score of %q = %.9f, want %.9f", q, h.Text, h.Score, want[h.Text])
			}
			if i > 0 && h.Score > hits[i-1].Score {
				t.Errorf("%q: hits not best first: %v", q, hits)
			}
		}
	}
}

// statsOf returns the tenant's stored statistics and the ones counted from
// its searchable chunks.
func statsOf(t *testing.T, db *postgres.DB, tenant string) (stored, counted map[string]int64) {
	t.Helper()
	ctx := context.Background()
	read := func(sql string) map[string]int64 {
		rows, err := db.Pool().Query(ctx, sql, tenant)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var k string
			var v int64
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		return out
	}
	stored = read(`SELECT term, df FROM term_stats WHERE tenant_id = $1
		UNION ALL SELECT '#chunks', chunks FROM tenant_term_stats WHERE tenant_id = $1 AND chunks <> 0
		UNION ALL SELECT '#terms', terms FROM tenant_term_stats WHERE tenant_id = $1 AND terms <> 0
		UNION ALL SELECT '#documents', documents FROM tenant_term_stats WHERE tenant_id = $1 AND documents <> 0`)
	live := `chunks c JOIN documents d ON d.id = c.document_id AND d.deleted_at IS NULL AND c.version = d.indexed_version
		WHERE c.tenant_id = $1`
	counted = read(`SELECT t.term, count(*) FROM ` + strings.Replace(live, "WHERE", ", unnest(tsvector_to_array(c.keywords)) t(term) WHERE", 1) + ` GROUP BY t.term
		UNION ALL SELECT '#chunks', count(*) FROM ` + live + ` HAVING count(*) > 0
		UNION ALL SELECT '#terms', sum(c.term_count) FROM ` + live + ` HAVING count(*) > 0
		UNION ALL SELECT '#documents', count(DISTINCT c.document_id) FROM ` + live + ` HAVING count(*) > 0`)
	return stored, counted
}

func checkStats(t *testing.T, db *postgres.DB, tenant, when string) {
	t.Helper()
	fold(t, db)
	stored, counted := statsOf(t, db, tenant)
	if diff := cmp.Diff(counted, stored); diff != "" {
		t.Fatalf("%s: stored statistics differ from a count (-counted +stored):\n%s", when, diff)
	}
}

func TestTermStatsStayExact(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	a := indexDoc(t, db, "a", "a.md", `{}`, "데이터베이스 인덱스", "backup schedule")
	indexDoc(t, db, "a", "b.md", `{}`, "인덱스 튜닝 index tuning")
	checkStats(t, db, "a", "after adds")

	indexDoc(t, db, "a", "a.md", `{}`, "완전히 새로운 내용 replaced text") // a new version of a.md
	checkStats(t, db, "a", "after a replace")

	if _, err := db.PurgeStale(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	checkStats(t, db, "a", "after purging the old version")

	if err := db.DeleteDocument(ctx, "a", a.ID); err != nil {
		t.Fatal(err)
	}
	checkStats(t, db, "a", "after a delete")
	if _, err := db.PurgeStale(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	checkStats(t, db, "a", "after purging the deleted document")

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			key := fmt.Sprintf("c%d.md", i%4) // two ingests of each of four keys
			indexDocConcurrently(t, db, "a", key, fmt.Sprintf("동시 ingest %d 데이터 %d", i, i%3))
		})
	}
	wg.Wait()
	checkStats(t, db, "a", "after concurrent ingests")
	if err := db.RecountTermStats(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	checkStats(t, db, "a", "after a recount")
}

// indexDocConcurrently is indexDoc for goroutines: it reports failures with
// Error and does not fold.
func indexDocConcurrently(t *testing.T, db *postgres.DB, tenant, key, text string) {
	ctx := context.Background()
	d, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: tenant, Key: key, MaxAttempts: 4})
	if err != nil {
		t.Error(err)
		return
	}
	if j, err = db.StartJob(ctx, j.ID, 0); err != nil {
		t.Error(err)
		return
	}
	set := protostar.ChunkSet{TenantID: tenant, DocumentID: d.ID, Version: j.Version, JobID: j.ID, Attempt: j.Attempts}
	row := protostar.Chunk{Text: text, Hash: []byte{1}, Embeddings: map[int64][]float32{1: []float32{1, 0, 0, 0}}, Terms: joinTerms(text),
		TermCount: len(lexical.IndexTerms(text))}
	if err := db.CopyChunks(ctx, set, []protostar.Chunk{row}); err != nil {
		t.Error(err)
		return
	}
	if _, err := db.ActivateVersion(ctx, j, protostar.Indexed{Chunks: 1}); err != nil {
		t.Error(err)
	}
}

func TestTermStatsAreTenantScoped(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	indexDoc(t, db, "a", "a.md", `{}`, "데이터베이스 인덱스 튜닝", "인덱스 설계", "백업 정책")
	q := keywordQuery("데이터베이스 인덱스")
	before, err := db.KeywordSearch(ctx, "a", q, protostar.SearchFilter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i := range 30 {
		texts = append(texts, fmt.Sprintf("데이터베이스 인덱스 %d 데이터베이스", i))
	}
	indexDoc(t, db, "b", "b.md", `{}`, texts...)
	after, err := db.KeywordSearch(ctx, "a", q, protostar.SearchFilter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("tenant b's documents changed tenant a's results (-before +after):\n%s", diff)
	}
}

// TestKeywordSearchFindsTheBestBeyondTheFirstThousand: the best chunk is
// written after 1,200 others that match, so a ranking of the first 1,000
// matches in storage order would miss it.
func TestKeywordSearchFindsTheBestBeyondTheFirstThousand(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	var texts []string
	for i := range 1200 {
		texts = append(texts, fmt.Sprintf("a long chunk about replication number %d with many other words in it to make it long", i))
	}
	indexDoc(t, db, "a", "many.md", `{}`, texts...)
	best := "replication replication replication"
	indexDoc(t, db, "a", "best.md", `{}`, best)
	for _, q := range []string{"replication", "replication number chunk"} {
		hits, err := db.KeywordSearch(ctx, "a", keywordQuery(q), protostar.SearchFilter{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if q == "replication" && (len(hits) != 1 || hits[0].Text != best) {
			t.Fatalf("%q: hits = %v, want %q", q, hits, best)
		}
		if len(hits) != 1 {
			t.Fatalf("%q: %d hits", q, len(hits))
		}
	}
}

// TestPassageScoreRanksTheChunkWhoseNeighboursHoldTheRest: two chunks hold
// the same query terms and tie on their own scores; the one whose
// neighbouring chunk holds the question's remaining term ranks first, by
// its chunk score plus its passage's, and without the passage score the
// tie goes to the other (indexed first).
func TestPassageScoreRanksTheChunkWhoseNeighboursHoldTheRest(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	indexDoc(t, db, "a", "weekly.md", `{}`, "backup schedule weekly", "the office cat sleeps")
	indexDoc(t, db, "a", "nightly.md", `{}`, "backup schedule nightly", "restore drill quarterly")
	indexDoc(t, db, "a", "other.md", `{}`, "nothing in common here")
	q := keywordQuery("backup schedule restore")
	chunkOnly, err := db.KeywordSearch(ctx, "a", q, protostar.SearchFilter{}, 3)
	if err != nil || len(chunkOnly) != 3 || chunkOnly[0].Text != "backup schedule weekly" || chunkOnly[0].Score != chunkOnly[1].Score {
		t.Fatalf("without passages: %+v, %v; want the two backup chunks tied, weekly.md's first", chunkOnly, err)
	}
	q.BM25.Passage = 1
	hits, err := db.KeywordSearch(ctx, "a", q, protostar.SearchFilter{}, 3)
	if err != nil || len(hits) != 3 {
		t.Fatalf("with passages: %+v, %v", hits, err)
	}
	if hits[0].Text != "backup schedule nightly" {
		t.Errorf("with passages the first hit is %q, want nightly.md's backup chunk", hits[0].Text)
	}
	own := map[string]float64{}
	for _, h := range chunkOnly {
		own[h.Text] = h.Score
	}
	for i, h := range hits {
		e := h.Explain
		if e.PassageScore <= 0 || math.Abs(e.KeywordScore-e.PassageScore-own[h.Text]) > 1e-9 || h.Score != e.KeywordScore {
			t.Errorf("%q: score %v = chunk %v + passage %v, want its own score %v plus a positive passage score",
				h.Text, h.Score, e.KeywordScore-e.PassageScore, e.PassageScore, own[h.Text])
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("hits not best first: %+v", hits)
		}
	}
}

// TestMigrationCountsDocumentsOfFoldedChanges: migration 00025 sets each
// tenant's document count to what its folded changes hold, so that the
// changes pending at the time (a delete and two adds here) leave it exact
// once folded.
func TestMigrationCountsDocumentsOfFoldedChanges(t *testing.T) {
	t.Parallel()
	dsn := testenv.NewDatabase(t)
	ctx := context.Background()
	db, err := testenv.OpenMigrated(ctx, dsn, dims, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := indexDoc(t, db, "a", "a.md", `{}`, "데이터베이스 인덱스", "backup schedule")
	indexDoc(t, db, "a", "b.md", `{}`, "인덱스 튜닝 index tuning")
	indexDoc(t, db, "a", "c.md", `{}`, "세 번째 문서")
	if err := db.DeleteDocument(ctx, "a", a.ID); err != nil {
		t.Fatal(err)
	}
	indexDocConcurrently(t, db, "a", "d.md", "네 번째 문서 fourth")
	indexDocConcurrently(t, db, "a", "e.md", "다섯 번째 문서 fifth")
	m, err := postgres.NewMigrator(slog.New(slog.DiscardHandler), dsn, hashSpec(dims))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.DownTo(ctx, 24); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	checkStats(t, db, "a", "after the migration and a fold")
}
