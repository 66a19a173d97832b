package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/config"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/search"
)

const topK = 10

// The indexes the search corpus load drops and rebuilds: the bench
// space's HNSW index and the keyword index.
const (
	benchSpaceIndex = "chunk_embeddings_space_1"
	keywordIndex    = "chunks_keywords"
)

// searchFigure measures figure 3: search latency through the API against the same
// queries run straight on Postgres (the yardstick), in vector, keyword and
// hybrid mode, and vector recall against an exact scan: set up, measure, report.
func (b *bench) searchFigure(ctx context.Context) ([]Result, error) {
	w, err := b.searchSetup(ctx)
	if err != nil {
		return nil, err
	}
	b.search = w
	runs := []*searchRun{
		{name: "vector/raw", fn: w.rawVector}, {name: "vector/api", fn: b.apiSearch(w.qs, "vector")},
		{name: "keyword/raw", fn: w.rawKeyword}, {name: "keyword/api", fn: b.apiSearch(w.qs, "keyword")},
		{name: "hybrid/raw", fn: w.rawHybrid}, {name: "hybrid/api", fn: b.apiSearch(w.qs, "hybrid")},
	}
	if err := b.measureSearch(ctx, runs); err != nil {
		return nil, err
	}
	recall, rp, _, err := b.recall(ctx, w.qs)
	if err != nil {
		return nil, err
	}
	return b.reportSearch(w, runs, recall, rp), nil
}

// searchWorkload is the loaded corpus and the queries, with their vectors
// and terms precomputed for the raw runs.
type searchWorkload struct {
	db    *database
	docs  int
	qs    []string
	vecs  [][]float32
	terms []protostar.KeywordQuery
	space protostar.EmbeddingSpace // the active one, searched by the raw queries
	// loadRate is the chunks per second the corpus was loaded at: chunked,
	// embedded, written with COPY and indexed, as ingest would.
	loadRate float64
}

// searchSetup loads the corpus and prepares the queries.
func (b *bench) searchSetup(ctx context.Context) (*searchWorkload, error) {
	db := b.main
	if err := db.reset(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	emb, err := hashembed.New(embedDims)
	if err != nil {
		return nil, err
	}
	docs, err := loadSearchCorpus(ctx, db, emb, b.s.SearchChunks, b.s.SearchDocChunks)
	if err != nil {
		return nil, err
	}
	// The COPY load bypasses activation, so count the keyword statistics.
	if err := db.DB.RecountTermStats(ctx, benchTenant); err != nil {
		return nil, err
	}
	loaded := time.Since(start)
	b.logger.Info("search corpus loaded", "chunks", b.s.SearchChunks, "documents", docs, "seconds", loaded.Round(time.Second).Seconds())
	w := &searchWorkload{db: db, docs: docs, qs: queries(seedSearch, seedQueries, docs, b.s.RecallQueries),
		loadRate: float64(b.s.SearchChunks) / loaded.Seconds()}
	if w.vecs, err = emb.Embed(ctx, w.qs); err != nil {
		return nil, err
	}
	if w.space, err = db.DB.ActiveSpace(ctx, benchTenant); err != nil {
		return nil, err
	}
	w.terms = make([]protostar.KeywordQuery, len(w.qs))
	for i, q := range w.qs {
		w.terms[i] = search.QueryTerms(q, protostar.DefaultBM25()) // what the service ranks with
	}
	return w, nil
}

func (w *searchWorkload) rawVector(ctx context.Context, i int) error {
	hits, err := w.db.DB.VectorSearch(ctx, w.space, benchTenant, w.vecs[i%len(w.qs)], protostar.SearchFilter{}, topK)
	if err == nil && len(hits) != topK {
		err = fmt.Errorf("raw vector search returned %d hits", len(hits))
	}
	return err
}

// rawKeyword is the service's BM25 statement sequence (postgres.DB.KeywordSearch)
// with precomputed terms.
func (w *searchWorkload) rawKeyword(ctx context.Context, i int) error {
	hits, err := w.db.DB.KeywordSearch(ctx, benchTenant, w.terms[i%len(w.qs)], protostar.SearchFilter{}, topK)
	if err == nil && len(hits) == 0 {
		err = fmt.Errorf("raw keyword search found nothing for %q", w.qs[i%len(w.qs)])
	}
	return err
}

// rawHybrid is hybrid as the service runs it (search.Service.hybrid):
// with the offline embedder's vector weight 0, keyword search alone, and
// the vectors only when it finds fewer than top_k; with a positive weight,
// both queries at once for 3×top_k, fused by reciprocal rank.
func (w *searchWorkload) rawHybrid(ctx context.Context, i int) error {
	q, vec, terms := w.qs[i%len(w.qs)], w.vecs[i%len(w.qs)], w.terms[i%len(w.qs)]
	weights := []float64{config.OfflineVectorWeight, 1}
	var (
		wg           sync.WaitGroup
		vHits, kHits []protostar.SearchHit
		vErr, kErr   error
	)
	if weights[0] == 0 {
		kHits, kErr = w.db.DB.KeywordSearch(ctx, benchTenant, terms, protostar.SearchFilter{}, topK)
		if kErr == nil && len(kHits) < topK {
			vHits, vErr = w.db.DB.VectorSearch(ctx, w.space, benchTenant, vec, protostar.SearchFilter{}, 3*topK)
		}
	} else {
		wg.Go(func() {
			vHits, vErr = w.db.DB.VectorSearch(ctx, w.space, benchTenant, vec, protostar.SearchFilter{}, 3*topK)
		})
		wg.Go(func() {
			kHits, kErr = w.db.DB.KeywordSearch(ctx, benchTenant, terms, protostar.SearchFilter{}, 3*topK)
		})
		wg.Wait()
	}
	if err := errors.Join(vErr, kErr); err != nil {
		return err
	}
	if hits := search.Fuse(topK, weights, vHits, kHits); len(hits) == 0 {
		return fmt.Errorf("raw hybrid search found nothing for %q", q)
	}
	return nil
}

// apiSearch searches through the API. The client only checks the status
// and counts the hits: decoding the JSON would put the benchmark's own CPU
// time, on the same two cores, into the API's latency.
func (b *bench) apiSearch(qs []string, mode string) func(context.Context, int) error {
	return apiSearchOn(b.serve, qs, mode)
}

// apiSearchOn is apiSearch against the API process p.
func apiSearchOn(p *proc, qs []string, mode string) func(context.Context, int) error {
	bodies := make([][]byte, len(qs))
	for i, q := range qs {
		bodies[i], _ = json.Marshal(map[string]any{"query": q, "top_k": topK, "mode": mode})
	}
	return func(ctx context.Context, i int) error {
		code, body, err := p.post(ctx, "/v1/search", bodies[i%len(qs)])
		switch {
		case err != nil:
			return err
		case code != http.StatusOK:
			return fmt.Errorf("%s search: status %d: %s", mode, code, truncate(body, 300))
		case bytes.Count(body, []byte(`"chunk_id":`)) == 0:
			return fmt.Errorf("%s search found nothing for %q", mode, qs[i%len(qs)])
		}
		return nil
	}
}

// searchRun is one side of a comparison and what it measured.
type searchRun struct {
	name string
	fn   func(context.Context, int) error
	res  loadResult
	cpu  map[string]float64
}

// measureSearch runs each mode's pair raw, API, API, raw, half the duration
// each (an ABBA order), so that a drift in the machine's load during the
// runs weighs on both sides alike.
func (b *bench) measureSearch(ctx context.Context, runs []*searchRun) error {
	for m := 0; m < len(runs); m += 2 {
		pair := runs[m : m+2]
		for _, r := range pair {
			if _, err := load(ctx, b.s.SearchWarmup, b.s.SearchConcurrency, r.fn); err != nil {
				return fmt.Errorf("%s warm-up: %w", r.name, err)
			}
			r.cpu = map[string]float64{}
		}
		for _, r := range []*searchRun{pair[0], pair[1], pair[1], pair[0]} {
			cpu := startCPU(ctx, b.main, map[string]*proc{"serve": b.serve})
			res, err := load(ctx, b.s.SearchDuration/2, b.s.SearchConcurrency, r.fn)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			for g, v := range cpu.stop(ctx) {
				r.cpu[g] += v
			}
			r.res.add(res)
		}
		for _, r := range pair {
			b.logger.Info("search run", "run", r.name, "requests", len(r.res.lat), "errors", r.res.errors,
				"p50_ms", round(ms(r.res.lat.quantile(0.5))), "p99_ms", round(ms(r.res.lat.quantile(0.99))))
		}
	}
	return nil
}

// reportSearch turns the runs into results: p50 and p99 per mode as a ratio
// to the raw yardstick, and the recall.
func (b *bench) reportSearch(w *searchWorkload, runs []*searchRun, recall float64, rp map[string]any) []Result {
	common := map[string]any{"chunks": b.s.SearchChunks, "documents": w.docs, "concurrency": b.s.SearchConcurrency,
		"seconds_per_run": b.s.SearchDuration.Seconds(), "warmup_seconds": b.s.SearchWarmup.Seconds(), "top_k": topK,
		"queries": len(w.qs), "db_pool": 10,
		"corpus": "generated documents chunked+embedded as the worker does, loaded with COPY (HNSW and GIN indexes " +
			"rebuilt with their own definitions after the load); documents rows ready at indexed_version 1",
	}
	byName := map[string]*searchRun{}
	for _, r := range runs {
		byName[r.name] = r
	}
	var out []Result
	for _, mode := range []string{"vector", "keyword", "hybrid"} {
		raw, viaAPI := byName[mode+"/raw"], byName[mode+"/api"]
		params := clone(common)
		params["api"] = merge(viaAPI.res.describe(), map[string]any{"cpu": cpuPerRequest(viaAPI.cpu, viaAPI.res.requests())})
		params["raw"] = merge(raw.res.describe(), map[string]any{"cpu": cpuPerRequest(raw.cpu, raw.res.requests())})
		params["raw_method"] = "postgres.DB.VectorSearch (the service's SQL) with precomputed query vectors through pgx"
		if mode == "keyword" {
			params["raw_method"] = "postgres.DB.KeywordSearch (the service's statistics read and BM25 rounds) with precomputed terms through pgx"
		}
		if mode == "hybrid" {
			params["raw_method"] = "VectorSearch and KeywordSearch (3×top_k each, concurrently) through pgx + search.Fuse, precomputed vectors and terms"
		}
		errs := viaAPI.res.errors + raw.res.errors
		p50 := newResult("search/"+mode+"/p50", ms(viaAPI.res.lat.quantile(0.5)), "ms",
			"search/"+mode+"/raw_sql_p50", ms(raw.res.lat.quantile(0.5)), params)
		p99 := newResult("search/"+mode+"/p99", ms(viaAPI.res.lat.quantile(0.99)), "ms",
			"search/"+mode+"/raw_sql_p99", ms(raw.res.lat.quantile(0.99)), params)
		switch mode {
		case "vector":
			p99 = p99.withTarget("ratio <= 1.5, no errors", p99.Ratio <= 1.5 && errs == 0)
		case "keyword", "hybrid":
			p99 = p99.withTarget("<= 100 ms, no errors", p99.Value <= 100 && errs == 0)
		}
		out = append(out, p50, p99)
	}
	rr := newResult("search/vector/recall@10", recall, "recall", "search/exact_scan", 1, merge(clone(common), rp))
	return append(out, rr.withTarget(">= 0.95", recall >= 0.95))
}

// recall is recall@10 of vector-mode search through the API against an
// exact scan (index scans disabled, so Postgres computes every distance),
// and the exact tops it measured against (the halfvec comparison reuses
// them: an exact scan per query is the slow part at 1M). A hit counts when
// it is in the exact top 10 or ties with the exact 10th distance: the
// generated corpus has duplicate chunks, and which of several
// equal-distance chunks comes first is arbitrary.
func (b *bench) recall(ctx context.Context, qs []string) (float64, map[string]any, exactTops, error) {
	start := time.Now()
	emb, _ := hashembed.New(embedDims)
	vecs, err := emb.Embed(ctx, qs)
	if err != nil {
		return 0, nil, exactTops{}, err
	}
	exact, err := exactTopsOf(ctx, b.main, vecs)
	if err != nil {
		return 0, nil, exact, err
	}
	var found, total atomic.Int64
	err = forEach(ctx, len(qs), runtime.NumCPU(), func(ctx context.Context, i int) error {
		var out struct {
			Results []protostar.SearchHit `json:"results"`
		}
		err := b.serve.call(ctx, http.MethodPost, "/v1/search", map[string]any{"query": qs[i], "top_k": topK, "mode": "vector"},
			http.StatusOK, &out)
		if err != nil {
			return err
		}
		found.Add(int64(recalled(out.Results, exact.ids[i], exact.kth[i])))
		total.Add(int64(len(exact.ids[i])))
		return nil
	})
	if err != nil {
		return 0, nil, exact, err
	}
	r := float64(found.Load()) / float64(max(total.Load(), 1))
	return r, map[string]any{"recall_queries": len(qs), "recall_seconds": round(time.Since(start).Seconds()),
		"recall_method": "vector-mode API top 10 vs exact scan (SET enable_indexscan = off), ties at the 10th distance count"}, exact, nil
}

// exactTop returns the ids of the topK chunks nearest to vec in the bench
// space by an exact scan (index scans disabled, so Postgres computes every
// distance), and the topK-th distance.
func exactTop(ctx context.Context, db *database, vec []float32) (map[int64]bool, float64, error) {
	exact := map[int64]bool{}
	var kth float64
	err := pgx.BeginFunc(ctx, db.DB.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_indexscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT c.id, e.embedding <=> $2 FROM chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id
			JOIN documents d ON d.id = c.document_id
			WHERE e.space_id = $4 AND c.tenant_id = $1 AND d.deleted_at IS NULL AND c.version = d.indexed_version
			ORDER BY e.embedding <=> $2 LIMIT $3`, benchTenant, pgvector.NewVector(vec), topK, benchSpace)
		if err != nil {
			return err
		}
		var (
			id   int64
			dist float64
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &dist}, func() error {
			exact[id], kth = true, dist
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("exact scan: %w", err)
	}
	return exact, kth, nil
}

// recalled counts the hits in the exact top k or tied with its k-th
// distance: the generated corpus has duplicate chunks, and which of
// several equal-distance chunks comes first is arbitrary.
func recalled(hits []protostar.SearchHit, exact map[int64]bool, kth float64) int {
	n := 0
	for _, h := range hits {
		if exact[h.ChunkID] || 1-h.Score <= kth+1e-6 {
			n++
		}
	}
	return n
}

// loadResult is one load run.
type loadResult struct {
	lat      latencies
	errors   int
	firstErr string
	seconds  float64
}

// add merges another run of the same load into r.
func (r *loadResult) add(o loadResult) {
	r.lat = append(r.lat, o.lat...)
	r.errors += o.errors
	r.seconds += o.seconds
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
}

func (r loadResult) requests() int { return len(r.lat) + r.errors }

func (r loadResult) describe() map[string]any {
	d := r.lat.describe()
	d["errors"] = r.errors
	if r.firstErr != "" {
		d["first_error"] = r.firstErr
	}
	d["requests_per_s"] = round(float64(len(r.lat)) / r.seconds)
	return d
}

// load calls fn from concurrency goroutines for duration and records every
// call's latency; failed calls count as errors (and are not in the
// latencies).
func load(ctx context.Context, duration time.Duration, concurrency int, fn func(context.Context, int) error) (loadResult, error) {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(duration)
	for g := range concurrency {
		wg.Go(func() {
			var local latencies
			nerr, first := 0, ""
			for i := g; time.Now().Before(deadline) && ctx.Err() == nil; i += concurrency {
				t := time.Now()
				if err := fn(ctx, i); err != nil {
					if ctx.Err() != nil {
						break
					}
					nerr++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			defer mu.Unlock()
			res.lat = append(res.lat, local...)
			res.errors += nerr
			if res.firstErr == "" {
				res.firstErr = first
			}
		})
	}
	wg.Wait()
	res.seconds = time.Since(start).Seconds()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(res.lat) == 0 {
		return res, fmt.Errorf("every request failed, e.g. %s", res.firstErr)
	}
	return res, nil
}

// loadSearchCorpus fills the chunks table with about target chunks of
// generated documents (perDoc chunks each on average), embedded by emb,
// as ready documents of the bench tenant, and returns the number of
// documents. The vector and keyword indexes are dropped for the load and
// rebuilt afterwards from their own definitions, which is much faster
// than maintaining them row by row.
func loadSearchCorpus(ctx context.Context, db *database, emb *hashembed.Embedder, target, perDoc int) (int, error) {
	defs, err := dropSearchIndexes(ctx, db)
	if err != nil {
		return 0, err
	}
	docs, err := copySearchCorpus(ctx, db, emb, target, perDoc)
	if err != nil {
		return 0, err
	}
	if _, err := rebuildSearchIndexes(ctx, db, defs, target); err != nil {
		return 0, err
	}
	return docs, nil
}

// dropSearchIndexes drops the vector index of the first embedding space
// and the keyword index of chunks and returns their definitions.
func dropSearchIndexes(ctx context.Context, db *database) (map[string]string, error) {
	rows, err := db.DB.Pool().Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE indexname IN ($1, $2)`, benchSpaceIndex, keywordIndex)
	if err != nil {
		return nil, err
	}
	var name, def string
	defs := map[string]string{}
	if _, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error { defs[name] = def; return nil }); err != nil {
		return nil, err
	}
	if len(defs) != 2 {
		return nil, fmt.Errorf("search indexes not found: %v", defs)
	}
	for name := range defs {
		if err := db.exec(ctx, `DROP INDEX `+name); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// copySearchCorpus writes about target chunks of generated documents, in
// batches of documents from one stream per CPU, and returns how many
// documents it wrote.
func copySearchCorpus(ctx context.Context, db *database, emb *hashembed.Embedder, target, perDoc int) (int, error) {
	var left, docs, next atomic.Int64
	left.Store(int64(target))
	// take claims up to n of the chunks left to write.
	take := func(n int64) int64 {
		for {
			l := left.Load()
			if l <= 0 {
				return 0
			}
			if left.CompareAndSwap(l, l-min(n, l)) {
				return min(n, l)
			}
		}
	}
	docBytes := perDoc * kib // a generated section yields about one chunk of ~1 KiB
	const batchDocs = 20
	streams := runtime.NumCPU()
	err := forEach(ctx, streams, streams, func(ctx context.Context, _ int) error {
		for left.Load() > 0 {
			var batch []docRows
			var keys []string
			for len(batch) < batchDocs && left.Load() > 0 {
				j := int(next.Add(1) - 1)
				rows, err := prepareDocument(ctx, emb, documentOfSize(seedSearch, j, docBytes))
				if err != nil {
					return err
				}
				n := take(int64(len(rows)))
				if n == 0 {
					break
				}
				batch = append(batch, docRows{TenantID: benchTenant, Rows: rows[:n]})
				keys = append(keys, fmt.Sprintf("search/%06d.md", j))
			}
			if err := writeBatch(ctx, db, emb.Model(), batch, keys); err != nil {
				return err
			}
			docs.Add(int64(len(batch)))
		}
		return nil
	})
	return int(docs.Load()), err
}

// writeBatch inserts the batch's documents as ready and copies their rows.
func writeBatch(ctx context.Context, db *database, model string, batch []docRows, keys []string) error {
	if len(batch) == 0 {
		return nil
	}
	counts := make([]int, len(batch))
	for i, d := range batch {
		counts[i] = len(d.Rows)
	}
	ids, err := insertDocuments(ctx, db, benchTenant, keys, counts, "ready")
	if err != nil {
		return err
	}
	for i := range batch {
		batch[i].DocumentID = ids[i]
	}
	_, err = copyRows(ctx, db, batch)
	return err
}

// rebuildSearchIndexes creates the indexes again from defs, on one
// connection with buildSettings, and returns each one's build seconds; then
// it vacuums and checkpoints, so that neither autovacuum nor a checkpoint
// of the load runs during the measurements.
func rebuildSearchIndexes(ctx context.Context, db *database, defs map[string]string, target int) (map[string]float64, error) {
	conn, err := db.DB.Pool().Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	for _, stmt := range buildSettings(target) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	took := map[string]float64{}
	for _, name := range slices.Sorted(maps.Keys(defs)) {
		start := time.Now()
		if _, err := conn.Exec(ctx, defs[name]); err != nil {
			return nil, fmt.Errorf("rebuild %s: %w", name, err)
		}
		took[name] = round(time.Since(start).Seconds())
	}
	for _, stmt := range []string{`RESET ALL`, `VACUUM (ANALYZE) chunks`, `VACUUM (ANALYZE) chunk_embeddings`, `VACUUM (ANALYZE) documents`, `CHECKPOINT`} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return took, nil
}

// buildSettings are the session settings of an index build after a bulk
// load: memory for the whole HNSW graph (a build that runs out of it is
// many times slower) and parallel maintenance workers, one per CPU.
func buildSettings(chunks int) []string {
	mem := "1GB"
	if chunks > 200_000 {
		mem = "6GB"
	}
	return []string{
		`SET maintenance_work_mem = '` + mem + `'`,
		fmt.Sprintf(`SET max_parallel_maintenance_workers = %d`, max(1, runtime.NumCPU()-1)),
	}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func merge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		dst[k] = v
	}
	return dst
}
