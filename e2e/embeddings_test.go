package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar/internal/testenv"
)

// spaceDoc is a small mixed Korean/English document, different for every
// (i, rev).
func spaceDoc(i, rev int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# 문서 %d 개정 %d\n\n", i, rev)
	for s := range 4 {
		fmt.Fprintf(&b, "## 섹션 %d: topic %d\n\n", s, (i+s)%7)
		fmt.Fprintf(&b, "데이터베이스 %d 복제와 백업 %d을 점검한다. Replica %d streams WAL; revision %d changes the index %d.\n\n", i, s, i*s, rev, s)
		fmt.Fprintf(&b, "검색 품질 %d: the vector index keeps recall high for query %d and tenant documents.\n\n", s, i)
	}
	return []byte(b.String())
}

// dbConn is a connection to the stack's database, closed with the test.
func (s *stack) dbConn() *pgx.Conn {
	s.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// count runs a count query.
func count(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// liveChunks is the query of the chunks a space must hold, and
// spaceRows of those it does.
const (
	liveChunks = `SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE d.deleted_at IS NULL AND c.version = d.indexed_version`
	spaceRows = liveChunks + ` AND EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.chunk_id = c.id AND e.space_id = $1)`
)

// uploadReady uploads docs under keys of tenant key and waits until all
// are ready.
func (p *proc) uploadReady(apiKey string, keys []string, content func(i int) []byte) {
	p.t.Helper()
	var jobs []string
	for i, k := range keys {
		jobs = append(jobs, p.mustUpload(k, apiKey, content(i)).Job.ID)
	}
	for _, id := range jobs {
		if j := p.waitJob(id, apiKey, 2*time.Minute); j.Status != "succeeded" {
			p.t.Fatalf("ingest job %+v", j)
		}
	}
}

// searchLog records every search of a load run: when it started and
// ended, and the space it read.
type searchLog struct {
	mu      sync.Mutex
	entries []searchEntry
	errs    atomic.Int64
	edits   atomic.Int64
	lastErr atomic.Value
}

type searchEntry struct {
	start, end time.Time
	space      int64
}

// runLoad searches (vector and hybrid) and edits documents until ctx ends.
func runLoad(ctx context.Context, p *proc, log *searchLog, docs int) *sync.WaitGroup {
	var wg sync.WaitGroup
	queries := []string{"데이터베이스 백업", "replica streams WAL", "검색 품질 recall", "vector index revision"}
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				mode := []string{"vector", "hybrid"}[i%2]
				start := time.Now()
				code, body := p.do(http.MethodPost, "/v1/search", keyA, map[string]any{"query": queries[(i+w)%len(queries)], "top_k": 10, "mode": mode})
				var res searchResults
				if code != http.StatusOK || json.Unmarshal(body, &res) != nil || len(res.Results) == 0 {
					log.errs.Add(1)
					log.lastErr.Store(fmt.Sprintf("%s search: %d %s", mode, code, truncate(body)))
					continue
				}
				log.mu.Lock()
				log.entries = append(log.entries, searchEntry{start, time.Now(), res.Space})
				log.mu.Unlock()
			}
		})
	}
	wg.Go(func() { // documents edited throughout
		for rev := 1; ctx.Err() == nil; rev++ {
			i := rev % docs
			if code, body := p.upload(fmt.Sprintf("load/%d.md", i), keyA, spaceDoc(i, rev)); code != http.StatusAccepted {
				log.errs.Add(1)
				log.lastErr.Store(fmt.Sprintf("upload: %d %s", code, truncate(body)))
			}
			log.edits.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	})
	return &wg
}

// uploadLoadDocs uploads acme's documents load/0.md … that runLoad edits.
func uploadLoadDocs(p *proc, docs int) {
	keys := make([]string, docs)
	for i := range keys {
		keys[i] = fmt.Sprintf("load/%d.md", i)
	}
	p.uploadReady(keyA, keys, func(i int) []byte { return spaceDoc(i, 0) })
}

// startLoad runs runLoad for a second before returning its log, and a
// stop that ends it and waits (safe to call twice).
func startLoad(p *proc, docs int) (*searchLog, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	log := &searchLog{}
	wg := runLoad(ctx, p, log, docs)
	time.Sleep(time.Second)
	return log, func() { cancel(); wg.Wait() }
}

// spacesBetween returns the spaces of the searches that started after
// from and ended before to.
func (l *searchLog) spacesBetween(from, to time.Time) map[int64]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int64]int{}
	for _, e := range l.entries {
		if e.start.After(from) && e.end.Before(to) {
			out[e.space]++
		}
	}
	return out
}

// askCached asks tenant beta's question and reports whether the answer
// was served from the cache.
func askCached(t *testing.T, p *proc) bool {
	t.Helper()
	code, body := p.do(http.MethodPost, "/v1/answers", keyB, map[string]any{"question": "데이터베이스 백업은 어떻게 점검하나요?"})
	if code != http.StatusOK {
		t.Fatalf("answer: %d %s", code, body)
	}
	return decode[struct {
		Cached bool `json:"cached"`
	}](t, body).Cached
}

// waitBackfilled waits until every live chunk has a vector in space.
func waitBackfilled(t *testing.T, conn *pgx.Conn, space int, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, fmt.Sprintf("space %d to hold every chunk", space), func() bool {
		return count(t, conn, spaceRows, space) == count(t, conn, liveChunks)
	})
}

// TestEmbeddingModelChangeUnderLoad walks the whole flow — create,
// backfill, compare, activate, rollback, activate, retire — from a
// 64-dimensional hash space to a 128-dimensional one while searches and
// document edits run, and checks that no search fails, that every search
// after a switch reads the space switched to, that no answer cached from
// the other space is served, and that each space holds only vectors of
// its own dimension.
func TestEmbeddingModelChangeUnderLoad(t *testing.T) {
	t.Parallel()
	s := newStack(t, "PROTOSTAR_BACKFILL_RATE=2000")
	p := s.start("all")
	conn := s.dbConn()
	const docs = 12
	uploadLoadDocs(p, docs)
	p.uploadReady(keyB, []string{"beta/backup.md"}, func(int) []byte { return spaceDoc(99, 0) })
	askCached(t, p)
	if !askCached(t, p) {
		t.Fatal("the second identical question was not served from the cache")
	}

	log, stop := startLoad(p, docs)
	defer stop()

	out := s.admin("embeddings", "create", "--provider", "hash", "--model", "hash-v1", "--dimensions", "128")
	if !strings.Contains(out, "space 2 created") {
		t.Fatalf("create: %s", out)
	}
	time.Sleep(500 * time.Millisecond) // ingests write both spaces now
	if out := s.admin("embeddings", "backfill", "2"); !strings.Contains(out, "tenant acme: job") {
		t.Fatalf("backfill: %s", out)
	}
	waitBackfilled(t, conn, 2, 2*time.Minute)
	compareSpaces(t, s)

	actAt := time.Now()
	s.admin("embeddings", "activate", "2")
	activated := time.Now()
	if askCached(t, p) {
		t.Fatal("after activate, an answer cached from the old space was served")
	}
	time.Sleep(2 * time.Second)
	rollAt := time.Now()
	s.admin("embeddings", "rollback")
	rolled := time.Now()
	if askCached(t, p) {
		t.Fatal("after rollback, an answer cached from the new space was served")
	}
	time.Sleep(2 * time.Second)
	act2At := time.Now()
	s.admin("embeddings", "activate", "2")
	s.admin("embeddings", "retire", "1")
	time.Sleep(2 * time.Second)
	stop()

	if n := log.errs.Load(); n > 0 {
		t.Fatalf("%d searches or edits failed during the flow; last: %v", n, log.lastErr.Load())
	}
	t.Logf("%d searches, %d edits during the flow", len(log.entries), log.edits.Load())
	for _, c := range []struct {
		what     string
		from, to time.Time
		want     int64
	}{
		{"before activate", time.Time{}, actAt, 1},
		{"after activate", activated, rollAt, 2},
		{"after rollback", rolled, act2At, 1},
	} {
		got := log.spacesBetween(c.from, c.to)
		if len(got) != 1 || got[c.want] == 0 {
			t.Errorf("searches %s read spaces %v, want only space %d", c.what, got, c.want)
		}
	}
	checkSpaceRows(t, conn)
	assertNoDuplicateChunks(t, s.DBURL)
}

// compareSpaces runs `embeddings compare` on tenant acme.
func compareSpaces(t *testing.T, s *stack) {
	t.Helper()
	qf := filepath.Join(t.TempDir(), "queries.txt")
	if err := os.WriteFile(qf, []byte("# queries\n데이터베이스 백업\nreplica streams WAL\n\n검색 품질\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := s.admin("embeddings", "compare", "--queries", qf, "--tenant", "acme")
	if !strings.Contains(out, "overlap@10: ") || !strings.Contains(out, "space 1 (active") || !strings.Contains(out, "space 2 (building") ||
		strings.Count(out, "p99") != 2 {
		t.Fatalf("compare printed:\n%s", out)
	}
	t.Logf("compare:\n%s", out)
}

// checkSpaceRows: after the flow, space 2 holds every live chunk once,
// only with 128-dimensional vectors, and retired space 1 holds nothing.
func checkSpaceRows(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	waitBackfilled(t, conn, 2, 30*time.Second)
	if n := count(t, conn, `SELECT count(*) FROM chunk_embeddings WHERE space_id = 2 AND vector_dims(embedding) <> 128`); n != 0 {
		t.Errorf("%d vectors of another dimension in space 2", n)
	}
	if n := count(t, conn, `SELECT count(*) FROM chunk_embeddings WHERE space_id = 1`); n != 0 {
		t.Errorf("retired space 1 still holds %d vectors", n)
	}
	if n := count(t, conn, `SELECT count(*) FROM pg_indexes WHERE indexname = 'chunk_embeddings_space_1'`); n != 0 {
		t.Error("retired space 1 still has its index")
	}
}

// TestBackfillSurvivesWorkerKill: a worker SIGKILLed in the middle of a
// backfill; the job is recovered, a new worker finishes it, and every
// chunk ends with exactly one vector in the new space.
func TestBackfillSurvivesWorkerKill(t *testing.T) {
	t.Parallel()
	s := newStack(t, "PROTOSTAR_BACKFILL_RATE=40", "PROTOSTAR_EMBED_BATCH_SIZE=8", "PROTOSTAR_JOB_STALE_AFTER=10s")
	api := s.start("serve")
	w1 := s.start("worker")
	conn := s.dbConn()
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("kill/%d.md", i)
	}
	api.uploadReady(keyA, keys, func(i int) []byte { return spaceDoc(i, 0) })
	total := count(t, conn, liveChunks)
	s.admin("embeddings", "create", "--provider", "hash", "--model", "hash-v1", "--dimensions", "32")
	var jobs []jobJSON
	if err := json.Unmarshal([]byte(s.admin("embeddings", "backfill", "2", "--json")), &jobs); err != nil || len(jobs) != 1 {
		t.Fatalf("backfill jobs %+v: %v", jobs, err)
	}
	testenv.WaitFor(t, time.Minute, "the backfill to write some vectors", func() bool {
		n := count(t, conn, `SELECT count(*) FROM chunk_embeddings WHERE space_id = 2`)
		return n >= 16
	})
	w1.Kill()
	written := count(t, conn, `SELECT count(*) FROM chunk_embeddings WHERE space_id = 2`)
	if written >= total {
		t.Fatalf("the backfill had finished (%d of %d) before the kill; slow it down", written, total)
	}
	s.start("worker")
	j := api.waitJob(jobs[0].ID, keyA, 3*time.Minute)
	if j.Status != "succeeded" || j.Attempts < 2 {
		t.Fatalf("backfill job after the kill = %+v, want succeeded on a later attempt", j)
	}
	t.Logf("killed at %d of %d vectors; finished on attempt %d", written, total, j.Attempts)
	if got := count(t, conn, `SELECT count(*) FROM chunk_embeddings WHERE space_id = 2`); got != total {
		t.Fatalf("space 2 holds %d vectors, want one for each of the %d chunks", got, total)
	}
	waitBackfilled(t, conn, 2, time.Second)
	if n := count(t, conn, `SELECT count(*) FROM (SELECT chunk_id FROM chunk_embeddings GROUP BY space_id, chunk_id HAVING count(*) > 1) x`); n != 0 {
		t.Fatalf("%d chunks with two vectors in one space", n)
	}
	out := s.admin("embeddings", "status", "2")
	if !strings.Contains(out, fmt.Sprintf("%d/%d", total, total)) || !strings.Contains(out, "100.0%") {
		t.Fatalf("status after the backfill:\n%s", out)
	}
}

// modelVector says which model made it: component 0 for model-a, 1 for
// model-b, the rest from the text.
func modelVector(model, text string, dims int) []float32 {
	v := testenv.TextVector(text, dims)
	v[0], v[1] = 0, 0
	v[map[string]int{"model-a": 0, "model-b": 1}[model]] = 1
	return v
}

// TestSameDimensionModelChangeNeverMixes: the installation runs model-a;
// a process configured for model-b of the same dimension warns and still
// writes model-a's vectors into model-a's space, never model-b's. Model b
// gets its own space, filled by a backfill, and search reads one or the
// other, never both.
func TestSameDimensionModelChangeNeverMixes(t *testing.T) {
	t.Parallel()
	m := testenv.NewEmbedder(t, 0, modelVector)
	s := newStack(t, "PROTOSTAR_EMBED_PROVIDER=openai", "PROTOSTAR_EMBED_MODEL=model-a", "PROTOSTAR_OPENAI_BASE_URL="+m.URL,
		"PROTOSTAR_OPENAI_REQUESTS_PER_SECOND=1000")
	p := s.start("all", "PROTOSTAR_EMBED_MODEL=model-b")
	conn := s.dbConn()
	testenv.WaitFor(t, 10*time.Second, "the configuration warning", func() bool {
		return p.logged("PROTOSTAR_EMBED_* does not match the active embedding space")
	})
	p.uploadReady(keyA, []string{"same/0.md", "same/1.md"}, func(i int) []byte { return spaceDoc(i, 0) })
	if m.Texts("model-b") != 0 || m.Texts("model-a") == 0 {
		t.Fatalf("texts embedded: model-a %d, model-b %d; want only model-a, the active space's", m.Texts("model-a"), m.Texts("model-b"))
	}
	s.admin("embeddings", "create", "--provider", "openai", "--model", "model-b", "--dimensions", "64")
	p.uploadReady(keyA, []string{"same/2.md"}, func(int) []byte { return spaceDoc(2, 0) })
	s.admin("embeddings", "backfill", "2")
	waitBackfilled(t, conn, 2, time.Minute)
	for space, marker := range map[int]int{1: 1, 2: 2} { // pgvector's real[] is 1-based
		other := 3 - marker
		if n := count(t, conn, fmt.Sprintf(`SELECT count(*) FROM chunk_embeddings WHERE space_id = $1 AND (embedding::real[])[%d] <> 0`, other), space); n != 0 {
			t.Errorf("space %d holds %d vectors of the other model", space, n)
		}
		if n := count(t, conn, `SELECT count(*) FROM chunk_embeddings WHERE space_id = $1`, space); n != count(t, conn, liveChunks) {
			t.Errorf("space %d holds %d vectors, want %d", space, n, count(t, conn, liveChunks))
		}
	}
	if res := p.search(keyA, map[string]any{"query": "데이터베이스 백업", "mode": "vector"}); res.Space != 1 {
		t.Fatalf("search read space %d before activation, want 1", res.Space)
	}
	s.admin("embeddings", "activate", "2")
	if res := p.search(keyA, map[string]any{"query": "데이터베이스 백업", "mode": "vector"}); res.Space != 2 || len(res.Results) == 0 {
		t.Fatalf("search after activation = space %d, %d results; want space 2", res.Space, len(res.Results))
	}
}

// TestEmbeddingSpacesAPI drives the flow over /v1/embedding-spaces with
// a platform key: tenant keys are refused, mistakes are problems (409 for
// a duplicate space, an activation below full coverage, a rollback with
// nowhere to go, retiring the active space).
func TestEmbeddingSpacesAPI(t *testing.T) {
	t.Parallel()
	const platformKey = "platform-key-0123456789abcdef"
	s := newStack(t, "PROTOSTAR_API_KEYS=acme:"+keyA+",beta:"+keyB+",*:"+platformKey)
	p := s.start("all")
	p.uploadReady(keyA, []string{"api/0.md", "api/1.md"}, func(i int) []byte { return spaceDoc(i, 0) })
	if code, body := p.get("/v1/embedding-spaces", keyA); code != http.StatusForbidden {
		t.Fatalf("tenant key: %d %s, want 403", code, body)
	}
	// The new space indexes its vectors as halfvec: acme's searches of it
	// below go through that index.
	spec := map[string]any{"provider": "hash", "model": "hash-v1", "dimensions": 48, "index": "halfvec"}
	for _, bad := range []struct {
		body map[string]any
		want int
		says string
	}{
		{map[string]any{"provider": "hash", "model": "hash-v1", "dimensions": 48, "index": "pq"}, http.StatusBadRequest, `body.index`},
		{map[string]any{"provider": "openai", "model": "m", "dimensions": 3072, "index": "vector"}, http.StatusBadRequest, "use index halfvec"},
	} {
		code, body := p.do(http.MethodPost, "/v1/embedding-spaces", platformKey, bad.body)
		if code != bad.want || !strings.Contains(string(body), bad.says) || !strings.Contains(string(body), `"status"`) {
			t.Fatalf("create %v: %d %s, want a %d problem saying %q", bad.body, code, body, bad.want, bad.says)
		}
	}
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{http.MethodPost, "/v1/embedding-spaces/rollback", map[string]any{}, http.StatusConflict},
		{http.MethodPost, "/v1/embedding-spaces", map[string]any{"provider": "hash", "model": "hash-v1", "dimensions": 64}, http.StatusConflict},
		{http.MethodPost, "/v1/embedding-spaces", map[string]any{"provider": "cohere", "model": "x", "dimensions": 64}, http.StatusBadRequest},
		{http.MethodPost, "/v1/embedding-spaces", spec, http.StatusCreated},
		{http.MethodPost, "/v1/embedding-spaces/2/activate", map[string]any{}, http.StatusConflict},
		{http.MethodPost, "/v1/embedding-spaces/2/backfill", map[string]any{"tenant": "acme"}, http.StatusAccepted},
	}
	for _, st := range steps {
		code, body := p.do(st.method, st.path, platformKey, st.body)
		if code != st.want {
			t.Fatalf("%s %s: %d %s, want %d", st.method, st.path, code, body, st.want)
		}
	}
	if _, body := p.get("/v1/embedding-spaces/2", platformKey); !strings.Contains(string(body), `"index":"halfvec"`) {
		t.Fatalf("space 2 = %s, want index halfvec", body)
	}
	testenv.WaitFor(t, time.Minute, "the backfill to cover the space", func() bool {
		_, body := p.get("/v1/embedding-spaces/2", platformKey)
		st := decode[struct {
			Tenants []struct {
				TenantID         string `json:"tenant_id"`
				Chunks, Embedded int64
			} `json:"tenants"`
		}](t, body)
		return len(st.Tenants) == 1 && st.Tenants[0].Chunks > 0 && st.Tenants[0].Embedded == st.Tenants[0].Chunks
	})
	for _, st := range []struct {
		method, path string
		body         any
		want         int
	}{
		{http.MethodPost, "/v1/embedding-spaces/2/activate", map[string]any{"tenant": "acme"}, http.StatusOK},
		{http.MethodDelete, "/v1/embedding-spaces/2", nil, http.StatusConflict}, // acme searches it
		{http.MethodPost, "/v1/embedding-spaces/rollback", map[string]any{"tenant": "acme"}, http.StatusOK},
		{http.MethodDelete, "/v1/embedding-spaces/1", nil, http.StatusConflict}, // active for all
		{http.MethodDelete, "/v1/embedding-spaces/2", nil, http.StatusNoContent},
	} {
		code, body := p.do(st.method, st.path, platformKey, st.body)
		if code != st.want {
			t.Fatalf("%s %s: %d %s, want %d", st.method, st.path, code, body, st.want)
		}
		if st.path == "/v1/embedding-spaces/2/activate" {
			if res := p.search(keyA, map[string]any{"query": "데이터베이스", "mode": "vector"}); res.Space != 2 {
				t.Fatalf("acme searched space %d after its activation, want 2", res.Space)
			}
			if res := p.search(keyB, map[string]any{"query": "데이터베이스", "mode": "vector"}); res.Space != 1 {
				t.Fatalf("beta searched space %d after acme's activation, want 1", res.Space)
			}
		}
	}
}

// TestReindexUnderLoad switches the active space's index to halfvec with
// `embeddings reindex` while searches and edits run: no search fails, the
// space says halfvec, and only the new index is left. (On so few chunks
// the planner rightly sorts rather than walk the index; that searches use
// it is TestReindexSpaceHalfvec's plan check.)
func TestReindexUnderLoad(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	conn := s.dbConn()
	const docs = 8
	uploadLoadDocs(p, docs)
	log, stop := startLoad(p, docs)
	defer stop()

	out := s.admin("embeddings", "reindex", "1", "--index", "halfvec", "--grace", "2s")
	if !strings.Contains(out, "searches use the halfvec index") || !strings.Contains(out, "halfvec") {
		t.Fatalf("reindex: %s", out)
	}
	time.Sleep(time.Second) // searches of the new type
	stop()
	if n := log.errs.Load(); n > 0 {
		t.Fatalf("%d searches or edits failed during the switch; last: %v", n, log.lastErr.Load())
	}
	if def := count(t, conn, `SELECT count(*)::int FROM pg_indexes WHERE indexname LIKE 'chunk_embeddings_space_1%'
		AND indexdef LIKE '%halfvec_cosine_ops%'`); def != 1 {
		t.Fatalf("%d halfvec indexes of space 1, want exactly one (the old and temporary ones gone)", def)
	}
	if n := count(t, conn, `SELECT count(*)::int FROM pg_indexes WHERE indexname LIKE 'chunk_embeddings_space_1%'`); n != 1 {
		t.Fatalf("%d indexes of space 1 after the switch, want 1", n)
	}
	if list := s.admin("embeddings", "list"); !strings.Contains(list, "halfvec") {
		t.Fatalf("embeddings list after the switch:\n%s", list)
	}
	t.Logf("%d searches, %d edits during the switch", len(log.entries), log.edits.Load())
}
