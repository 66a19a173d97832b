package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/testenv"
)

// defaultWorkerConcurrency is PROTOSTAR_WORKER_CONCURRENCY's default; the
// naive path runs as many documents at once, so that the comparison is
// about how each document is processed, not about parallelism.
const defaultWorkerConcurrency = 4

// ingestCorpus is the generated corpus of figure 1, uploaded to the bucket.
type ingestCorpus struct {
	keys  []string
	docs  [][]byte
	bytes int64
}

func generateIngestCorpus(n int) ingestCorpus {
	c := ingestCorpus{keys: make([]string, n), docs: make([][]byte, n)}
	var wg sync.WaitGroup
	for w := range runtime.NumCPU() {
		wg.Go(func() {
			for i := w; i < n; i += runtime.NumCPU() {
				c.keys[i] = fmt.Sprintf("%05d.md", i)
				c.docs[i] = document(seedIngest, i)
			}
		})
	}
	wg.Wait()
	for _, d := range c.docs {
		c.bytes += int64(len(d))
	}
	return c
}

// upload puts every document into the bucket where the service looks for
// the bench tenant's keys, eight at a time.
func (h *harness) upload(ctx context.Context, keys []string, docs [][]byte) error {
	return forEach(ctx, len(keys), 8, func(ctx context.Context, i int) error {
		_, err := h.s3.PutObject(ctx, h.bucket, protostar.ObjectKey(benchTenant, keys[i]), bytes.NewReader(docs[i]), int64(len(docs[i])),
			minio.PutObjectOptions{ContentType: "text/markdown; charset=utf-8"})
		if err != nil {
			return fmt.Errorf("upload %s: %w", keys[i], err)
		}
		return nil
	})
}

// pipelineRun is one measurement of the pipeline.
type pipelineRun struct {
	rate   float64 // chunks/s
	params map[string]any
}

// yardstick is the result of a baseline path.
type yardstick struct {
	rate   float64 // chunks/s
	params map[string]any
}

// ingestPipeline measures the service: every document of the corpus under
// prefix POSTed by key (eight requests at a time) to `protostar serve`,
// ingested by a separate `protostar worker` with its default settings,
// into an emptied chunks table; the clock runs from the first POST until
// the last document is ready.
func (b *bench) ingestPipeline(ctx context.Context, serve, worker *proc, c ingestCorpus, prefix string) (pipelineRun, error) {
	return b.ingestPipelineOn(ctx, b.main, serve, worker, c, prefix)
}

// ingestPipelineOn is ingestPipeline on the database db that serve and
// worker use.
func (b *bench) ingestPipelineOn(ctx context.Context, db *database, serve, worker *proc, c ingestCorpus, prefix string) (pipelineRun, error) {
	if err := db.reset(ctx); err != nil {
		return pipelineRun{}, err
	}
	return b.measurePipeline(ctx, db, serve, worker, c, prefix)
}

// measurePipeline is ingestPipelineOn into db as it is: the growth curve
// ingests into tables that already hold its corpus.
func (b *bench) measurePipeline(ctx context.Context, db *database, serve, worker *proc, c ingestCorpus, prefix string) (pipelineRun, error) {
	cpu := startCPU(ctx, db, map[string]*proc{"serve": serve, "worker": worker})
	name := strings.Trim(prefix, "/")
	b.prof.cpu(ctx, worker, "worker-"+name, 20*time.Second)
	b.prof.cpu(ctx, serve, "serve-"+name, 20*time.Second)
	start := time.Now()
	err := forEach(ctx, len(c.keys), 8, func(ctx context.Context, i int) error {
		_, err := serve.submit(ctx, prefix+c.keys[i])
		return err
	})
	if err != nil {
		return pipelineRun{}, err
	}
	posted := time.Since(start)
	chunks, err := waitReady(ctx, db, benchTenant, prefix, len(c.keys), 30*time.Minute)
	if err != nil {
		return pipelineRun{}, fmt.Errorf("%w\nworker log:\n%s", err, worker.Tail(20))
	}
	elapsed := time.Since(start)
	used := cpu.stop(ctx)
	var stored int
	err = db.DB.Pool().QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id AND c.version = d.indexed_version
		WHERE d.tenant_id = $1 AND starts_with(d.key, $2) AND d.deleted_at IS NULL`, benchTenant, prefix).Scan(&stored)
	if err != nil {
		return pipelineRun{}, err
	}
	if stored != chunks {
		return pipelineRun{}, fmt.Errorf("documents report %d chunks but the table holds %d", chunks, stored)
	}
	rate := float64(chunks) / elapsed.Seconds()
	b.logger.Info("pipeline run", "prefix", prefix, "chunks", chunks, "seconds", round(elapsed.Seconds()), "chunks_per_s", round(rate))
	return pipelineRun{rate: rate, params: map[string]any{
		"documents": len(c.keys), "bytes": c.bytes, "chunks": chunks, "seconds": round(elapsed.Seconds()),
		"chunks_per_s": round(rate), "post_seconds": round(posted.Seconds()), "cpu": cpuParams(used, chunks),
	}}, nil
}

// waitReady polls until n documents of tenant whose keys start with prefix
// are ready and returns their total chunk count. A failed document is an
// error.
func waitReady(ctx context.Context, db *database, tenant, prefix string, n int, timeout time.Duration) (int, error) {
	var chunks int
	err := testenv.Poll(ctx, timeout, fmt.Sprintf("%d documents to be ready", n), func() (bool, error) {
		var ready, failed int
		err := db.DB.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'ready'), count(*) FILTER (WHERE status = 'failed'),
			coalesce(sum(chunk_count) FILTER (WHERE status = 'ready'), 0) FROM documents
			WHERE tenant_id = $1 AND starts_with(key, $2) AND deleted_at IS NULL`,
			tenant, prefix).Scan(&ready, &failed, &chunks)
		if err != nil {
			return false, err
		}
		if failed > 0 {
			var msg string
			_ = db.DB.Pool().QueryRow(ctx, `SELECT key || ': ' || error FROM documents
				WHERE tenant_id = $1 AND starts_with(key, $2) AND status = 'failed' LIMIT 1`, tenant, prefix).Scan(&msg)
			return false, fmt.Errorf("%d documents failed, e.g. %s", failed, msg)
		}
		return ready >= n, nil
	})
	return chunks, err
}

// naiveEmbedder is what the naive path embeds with: the offline hash
// embedder, or protostar's openai provider against the simulated one.
type naiveEmbedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Model() string
}

// ingestNaive is the original Python service's way: for each document read
// the whole object, chunk it, embed one chunk per call and INSERT one row
// per statement, then mark the document ready, in one transaction per
// document (committing per row would only make it slower). Documents run
// defaultWorkerConcurrency at a time, on the same chunker, in the
// benchmark's process; it reads the corpus under prefix and writes as
// tenant.
func (b *bench) ingestNaive(ctx context.Context, c ingestCorpus, prefix, tenant string, emb naiveEmbedder) (yardstick, error) {
	if err := b.main.reset(ctx); err != nil {
		return yardstick{}, err
	}
	ids, err := insertDocuments(ctx, b.main, tenant, c.keys, nil, "pending")
	if err != nil {
		return yardstick{}, err
	}
	var chunks atomic.Int64
	cpu := startCPU(ctx, b.main, nil)
	start := time.Now()
	err = forEach(ctx, len(c.keys), defaultWorkerConcurrency, func(ctx context.Context, i int) error {
		key := prefix + c.keys[i]
		obj, err := b.h.s3.GetObject(ctx, b.h.bucket, protostar.ObjectKey(benchTenant, key), minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		data, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		rows, texts, err := chunkDocument(data)
		if err != nil {
			return fmt.Errorf("chunk %s: %w", key, err)
		}
		err = pgx.BeginFunc(ctx, b.main.DB.Pool(), func(tx pgx.Tx) error {
			for j, r := range rows {
				vecs, err := emb.Embed(ctx, texts[j:j+1])
				if err != nil {
					return err
				}
				path := r.HeadingPath
				if path == nil {
					path = []string{}
				}
				_, err = tx.Exec(ctx, `WITH c AS (INSERT INTO chunks (tenant_id, document_id, version, ordinal, heading_path, text,
						content_hash, tokens, terms, term_count)
					VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $9, $10) RETURNING id)
					INSERT INTO chunk_embeddings (space_id, chunk_id, embedding) SELECT $11, id, $8 FROM c`,
					tenant, ids[i], r.Ordinal, path, r.Text, r.Hash, r.Tokens, pgvector.NewVector(vecs[0]), r.Terms, r.TermCount, benchSpace)
				if err != nil {
					return fmt.Errorf("insert chunk %d of %s: %w", j, key, err)
				}
			}
			_, err := tx.Exec(ctx, `UPDATE documents SET status = 'ready', indexed_version = 1, chunk_count = $2,
				indexed_at = now(), updated_at = now() WHERE id = $1`, ids[i], len(rows))
			return err
		})
		chunks.Add(int64(len(rows)))
		return err
	})
	if err != nil {
		return yardstick{}, fmt.Errorf("naive ingest: %w", err)
	}
	elapsed := time.Since(start)
	used := cpu.stop(ctx)
	rate := float64(chunks.Load()) / elapsed.Seconds()
	b.logger.Info("naive run", "chunks", chunks.Load(), "seconds", round(elapsed.Seconds()), "chunks_per_s", round(rate))
	return yardstick{rate: rate, params: map[string]any{
		"documents": len(c.keys), "chunks": chunks.Load(), "seconds": round(elapsed.Seconds()),
		"concurrency": defaultWorkerConcurrency, "cpu": cpuParams(used, int(chunks.Load())), "embedder": emb.Model(),
		"method": "per document: GetObject + ReadAll, chunk, Embed one text per call, one INSERT per row, " +
			"one transaction per document; in the benchmark's process",
	}}, nil
}

// ingestLimit is what Postgres can take: the corpus's rows, chunked and
// embedded beforehand (not timed), written by COPY into the same table and
// indexes from an emptied table. It runs with 1, NumCPU and 2×NumCPU
// parallel COPY streams, one COPY statement per stream, and keeps the
// fastest.
func (b *bench) ingestLimit(ctx context.Context, c ingestCorpus) (yardstick, error) {
	const tenant = "limit"
	emb, err := hashembed.New(embedDims)
	if err != nil {
		return yardstick{}, err
	}
	prepared, total, err := b.prepareLimit(ctx, emb, c, tenant)
	if err != nil {
		return yardstick{}, err
	}
	runs := map[string]any{}
	best, bestStreams := 0.0, 0
	for _, streams := range []int{1, runtime.NumCPU(), 2 * runtime.NumCPU()} {
		if _, done := runs[fmt.Sprint(streams)]; done {
			continue
		}
		if err := b.main.reset(ctx); err != nil {
			return yardstick{}, err
		}
		groups := splitByRows(prepared, streams)
		cpu := startCPU(ctx, b.main, nil)
		start := time.Now()
		err := forEach(ctx, len(groups), len(groups), func(ctx context.Context, i int) error {
			_, err := copyRows(ctx, b.main, groups[i])
			return err
		})
		if err != nil {
			return yardstick{}, err
		}
		r := float64(total) / time.Since(start).Seconds()
		runs[fmt.Sprint(streams)] = merge(map[string]any{"chunks_per_s": round(r)}, cpuParams(cpu.stop(ctx), total))
		if r > best {
			best, bestStreams = r, streams
		}
	}
	// Not part of the yardstick: the same COPY without the HNSW index
	// shows how much of Postgres's work is maintaining it.
	var noHNSW float64
	err = withoutIndex(ctx, b.main, "chunks_embedding", func() error {
		if err := b.main.reset(ctx); err != nil {
			return err
		}
		groups := splitByRows(prepared, bestStreams)
		start := time.Now()
		err := forEach(ctx, len(groups), len(groups), func(ctx context.Context, i int) error {
			_, err := copyRows(ctx, b.main, groups[i])
			return err
		})
		noHNSW = float64(total) / time.Since(start).Seconds()
		return err
	})
	if err != nil {
		return yardstick{}, err
	}
	b.logger.Info("limit runs", "chunks", total, "best_chunks_per_s", round(best), "streams", bestStreams,
		"without_hnsw_chunks_per_s", round(noHNSW))
	return yardstick{rate: best, params: map[string]any{
		"documents": len(c.docs), "chunks": total, "copy_streams": bestStreams, "by_streams": runs,
		"without_hnsw_index_chunks_per_s": round(noHNSW),
		"method": "rows chunked+embedded before timing; one COPY statement per stream into the emptied chunks table " +
			"with its HNSW, GIN and btree indexes; best of 1, NumCPU and 2×NumCPU parallel streams",
	}}, nil
}

// prepareLimit chunks and embeds the corpus and inserts its documents as
// ready documents of tenant: the rows the limit yardstick copies, and how
// many there are.
func (b *bench) prepareLimit(ctx context.Context, emb *hashembed.Embedder, c ingestCorpus, tenant string) ([]docRows, int, error) {
	prepared := make([]docRows, len(c.docs))
	err := forEach(ctx, len(c.docs), runtime.NumCPU(), func(ctx context.Context, i int) error {
		rows, err := prepareDocument(ctx, emb, c.docs[i])
		prepared[i] = docRows{TenantID: tenant, Rows: rows}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	counts := make([]int, len(prepared))
	total := 0
	for i, d := range prepared {
		counts[i] = len(d.Rows)
		total += len(d.Rows)
	}
	ids, err := insertDocuments(ctx, b.main, tenant, c.keys, counts, "ready")
	if err != nil {
		return nil, 0, err
	}
	for i := range prepared {
		prepared[i].DocumentID = ids[i]
	}
	return prepared, total, nil
}

// withoutIndex drops the index name of the chunks table, runs fn and
// creates the index again from its definition.
func withoutIndex(ctx context.Context, db *database, name string, fn func() error) error {
	var def string
	err := db.DB.Pool().QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname = $1`, name).Scan(&def)
	if err != nil {
		return fmt.Errorf("index %s: %w", name, err)
	}
	if err := db.exec(ctx, `DROP INDEX `+name); err != nil {
		return err
	}
	ferr := fn()
	if err := db.reset(ctx); err != nil {
		return errors.Join(ferr, err)
	}
	return errors.Join(ferr, db.exec(ctx, def))
}

// splitByRows cuts docs into at most n contiguous groups of about equal row
// counts.
func splitByRows(docs []docRows, n int) [][]docRows {
	total := 0
	for _, d := range docs {
		total += len(d.Rows)
	}
	var (
		groups [][]docRows
		start  int
		acc    int
	)
	for i, d := range docs {
		acc += len(d.Rows)
		if acc >= total*(len(groups)+1)/n && len(groups) < n-1 {
			groups = append(groups, docs[start:i+1])
			start = i + 1
		}
	}
	if start < len(docs) {
		groups = append(groups, docs[start:])
	}
	return groups
}

// ingestFigures turns the runs into figure 1's results: the pipeline's
// best run against each yardstick.
func ingestFigures(runs []pipelineRun, naive, limit yardstick) []Result {
	best := 0.0
	var all []map[string]any
	for _, r := range runs {
		best = max(best, r.rate)
		all = append(all, r.params)
	}
	pipeline := map[string]any{
		"runs": all, "worker_concurrency": defaultWorkerConcurrency, "embedder": "hash-v1", "dims": embedDims,
		"post_concurrency": 8, "processes": "protostar serve + protostar worker, default settings",
		"method": "POST /v1/documents {key} for every document, clock from the first POST until every document is ready; best of the runs",
	}
	pl := newResult("ingest/pipeline/limit", best, "chunks/s", "ingest/limit", limit.rate,
		map[string]any{"pipeline": pipeline, "baseline": limit.params})
	pn := newResult("ingest/pipeline/naive", best, "chunks/s", "ingest/naive", naive.rate,
		map[string]any{"pipeline": pipeline, "baseline": naive.params})
	return []Result{
		pl.withTarget("ratio >= 0.5", pl.Ratio >= 0.5),
		pn.withTarget("ratio >= 10", pn.Ratio >= 10),
	}
}
