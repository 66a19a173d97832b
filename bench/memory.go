package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

// memoryFigure measures figure 2: the peak resident set (VmHWM) of a
// `protostar worker` process that ingests one big generated object,
// against the same for a 10 MiB object. Each size gets a fresh worker
// process that ingests only that document.
func (b *bench) memoryFigure(ctx context.Context) ([]Result, error) {
	db, err := b.h.newDatabase(ctx, embedDims)
	if err != nil {
		return nil, err
	}
	// The figure is the worker's memory. A 1 GiB object is about a million
	// chunks, and maintaining the HNSW index for them would take Postgres
	// most of an hour on two cores; the worker waits for each COPY either
	// way (backpressure), so its memory does not depend on how fast
	// Postgres is. The other indexes stay.
	if err := dropHNSW(ctx, db); err != nil {
		return nil, err
	}
	serve, err := b.h.start(ctx, "serve", db, 1)
	if err != nil {
		return nil, err
	}
	defer serve.Stop()
	small, err := b.streamOne(ctx, db, serve, b.s.MemSmall, false)
	if err != nil {
		return nil, err
	}
	big, err := b.streamOne(ctx, db, serve, b.s.MemBig, false)
	if err != nil {
		return nil, err
	}
	line, err := b.streamOne(ctx, db, serve, b.s.MemBig, true)
	if err != nil {
		return nil, err
	}
	params := map[string]any{
		"big": big.describe(b.s.MemBig), "small": small.describe(b.s.MemSmall), "one_line": line.describe(b.s.MemBig),
		"measure":    "VmHWM of /proc/PID/status of a fresh `protostar worker` process per object, after its one job finished",
		"object":     "one generated mixed Korean/English Markdown document, streamed into MinIO with its exact size",
		"hnsw_index": "every HNSW index dropped in this figure's database (see docs/benchmarks.md); GIN and btree indexes kept",
	}
	if b.s.MemBig != gib {
		params["note"] = fmt.Sprintf("scale %s streams %d MiB instead of 1 GiB to stay within its time budget", b.s.Name, b.s.MemBig/mib)
	}
	smallName := fmt.Sprintf("memory/worker_peak_rss/%dMiB", b.s.MemSmall/mib)
	r := newResult(fmt.Sprintf("memory/worker_peak_rss/%dMiB", b.s.MemBig/mib), float64(big.hwm)/mib, "MiB",
		smallName, float64(small.hwm)/mib, params)
	// The same size on a single line: no line break for the reader, the
	// chunker or the embedder to lean on.
	l := newResult(fmt.Sprintf("memory/worker_peak_rss/%dMiB_one_line", b.s.MemBig/mib), float64(line.hwm)/mib, "MiB",
		smallName, float64(small.hwm)/mib, params)
	return []Result{r.withTarget("< 256 MiB and ratio <= 1.5", r.Value < 256 && r.Ratio <= 1.5),
		l.withTarget("< 256 MiB and ratio <= 1.5", l.Value < 256 && l.Ratio <= 1.5)}, nil
}

// memSample is what streaming one object cost a fresh worker.
type memSample struct {
	hwm, rss, idle int64
	chunks         int
	seconds        float64
}

func (s memSample) describe(size int64) map[string]any {
	return map[string]any{"object_mib": size / mib, "chunks": s.chunks, "seconds": round(s.seconds),
		"peak_rss_mib": round(float64(s.hwm) / mib), "rss_after_mib": round(float64(s.rss) / mib),
		"idle_rss_mib": round(float64(s.idle) / mib), "mib_per_s": round(float64(size) / mib / s.seconds)}
}

// streamOne uploads one generated object of size bytes (all on one line if
// oneLine), ingests it on a fresh worker and reads the worker's memory
// before and after.
func (b *bench) streamOne(ctx context.Context, db *database, serve *proc, size int64, oneLine bool) (memSample, error) {
	var s memSample
	key := fmt.Sprintf("stream/%d.md", size)
	var src io.Reader = newStreamReader(seedStream, size)
	if oneLine {
		key, src = fmt.Sprintf("stream/%d-one-line.md", size), lineJoiner{src}
	}
	object := protostar.ObjectKey(benchTenant, key)
	start := time.Now()
	_, err := b.h.s3.PutObject(ctx, b.h.bucket, object, src, size,
		minio.PutObjectOptions{ContentType: "text/markdown; charset=utf-8", PartSize: 16 * mib})
	if err != nil {
		return s, fmt.Errorf("upload %s: %w", key, err)
	}
	defer func() {
		_ = b.h.s3.RemoveObject(context.WithoutCancel(ctx), b.h.bucket, object, minio.RemoveObjectOptions{})
	}()
	b.logger.Info("streaming object uploaded", "mib", size/mib, "seconds", time.Since(start).Round(time.Second).Seconds())

	worker, err := b.h.start(ctx, "worker", db, 1)
	if err != nil {
		return s, err
	}
	defer worker.Stop()
	if s.idle, _, err = worker.memory(); err != nil {
		return s, err
	}
	start = time.Now()
	sub, err := serve.submit(ctx, key)
	if err != nil {
		return s, err
	}
	if s.chunks, err = waitDocument(ctx, db, sub.Document.ID, 2*time.Hour); err != nil {
		return s, fmt.Errorf("%w\nworker log:\n%s", err, worker.Tail(20))
	}
	s.seconds = time.Since(start).Seconds()
	if s.hwm, s.rss, err = worker.memory(); err != nil {
		return s, err
	}
	b.logger.Info("streamed", "mib", size/mib, "one_line", oneLine, "chunks", s.chunks, "seconds", round(s.seconds), "peak_rss_mib", s.hwm/mib)
	return s, nil
}

// waitDocument polls until the document is ready and returns its chunk
// count; a failed document is an error.
func waitDocument(ctx context.Context, db *database, id string, timeout time.Duration) (int, error) {
	var chunks int
	err := testenv.Poll(ctx, timeout, "document "+id, func() (bool, error) {
		var status, msg string
		err := db.DB.Pool().QueryRow(ctx, `SELECT status, error, chunk_count FROM documents WHERE id = $1`, id).Scan(&status, &msg, &chunks)
		if err != nil {
			return false, err
		}
		if status == "failed" {
			return false, fmt.Errorf("document failed: %s", msg)
		}
		return status == "ready", nil
	})
	return chunks, err
}

// lineJoiner turns every line break of r into a space: the document becomes
// one line of the same size.
type lineJoiner struct{ r io.Reader }

func (j lineJoiner) Read(p []byte) (int, error) {
	n, err := j.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			p[i] = ' '
		}
	}
	return n, err
}

// dropHNSW drops every HNSW index of db: the old column's and each
// embedding space's.
func dropHNSW(ctx context.Context, db *database) error {
	rows, err := db.DB.Pool().Query(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '%USING hnsw%'`)
	if err != nil {
		return fmt.Errorf("list HNSW indexes: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list HNSW indexes: %w", err)
	}
	for _, n := range names {
		if err := db.exec(ctx, `DROP INDEX `+pgx.Identifier{n}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}
