package ingest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
	"github.com/protostar/protostar/internal/markdown"
	"github.com/protostar/protostar/internal/telemetry"
)

// batcher turns chunks into rows and writes them in batches. The caller
// fills a batch (chunking is CPU work) while a writer goroutine the batcher
// owns handles the previous one: it reuses the embeddings of unchanged
// chunks from the active version, embeds the rest and writes the batch with
// COPY. So reading and chunking overlap with embedding and Postgres's work,
// and at most three batches are in memory: the one being filled, one
// waiting, and the one being written.
type batcher struct {
	svc  *Service
	doc  protostar.Document
	set  protostar.ChunkSet
	size int // rows per batch

	cur  *batch
	next int // ordinal of the next chunk

	queue     chan *batch
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}          // closed when the writer has stopped
	err       error                  // the writer's error; read after done
	res       protostar.IngestResult // written by the writer; read after done
	written   atomic.Int64           // rows written so far
}

// ChunkRow is the row ingest writes for chunk c at ordinal (all but its
// embedding) and the text it embeds for it (see embedText): the row's hash
// and keyword terms are of that text.
func ChunkRow(c markdown.Chunk, ordinal int) (protostar.Chunk, string) {
	text := embedText(c)
	hash := sha256.Sum256([]byte(text))
	var terms strings.Builder
	terms.Grow(len(text) + len(text)/2)
	n := 0
	lexical.EachIndexTerm(text, func(t string) {
		if terms.Len() > 0 {
			terms.WriteByte(' ')
		}
		terms.WriteString(t)
		n++
	})
	return protostar.Chunk{Ordinal: ordinal, HeadingPath: c.HeadingPath, Text: c.Text, Hash: hash[:],
		Tokens: c.Tokens, Terms: terms.String(), TermCount: n}, text
}

// batch is a batch of rows and the texts their embeddings are made from.
type batch struct {
	rows  []protostar.Chunk
	texts []string
}

// newBatcher starts the batcher's writer; close or abort must be called.
func newBatcher(ctx context.Context, svc *Service, doc protostar.Document, set protostar.ChunkSet, size int) *batcher {
	b := &batcher{svc: svc, doc: doc, set: set, size: size, cur: &batch{},
		queue: make(chan *batch, 1), done: make(chan struct{})}
	ctx, b.cancel = context.WithCancel(ctx)
	go b.write(ctx)
	return b
}

// add turns c into a row of the current batch and hands the batch to the
// writer when it is full. It returns the writer's error once it failed.
func (b *batcher) add(ctx context.Context, c markdown.Chunk) error {
	row, text := ChunkRow(c, b.next)
	b.cur.rows = append(b.cur.rows, row)
	b.cur.texts = append(b.cur.texts, text)
	b.next++
	if len(b.cur.rows) < b.size {
		return nil
	}
	return b.send(ctx)
}

// send hands the current batch to the writer, waiting while it is busy
// with the one before.
func (b *batcher) send(ctx context.Context) error {
	if len(b.cur.rows) == 0 {
		return nil
	}
	select {
	case b.queue <- b.cur:
		b.cur = &batch{rows: make([]protostar.Chunk, 0, b.size), texts: make([]string, 0, b.size)}
		return nil
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close writes what is left and waits for the writer; the result counts
// every chunk written.
func (b *batcher) close(ctx context.Context) (protostar.IngestResult, error) {
	err := b.send(ctx)
	b.closeOnce.Do(func() { close(b.queue) })
	<-b.done
	b.cancel()
	if err == nil {
		err = b.err
	}
	b.res.ChunksTotal = int(b.written.Load())
	return b.res, err
}

// abort stops the writer without writing what is left. Safe to call after
// close.
func (b *batcher) abort() {
	b.cancel()
	b.closeOnce.Do(func() { close(b.queue) })
	<-b.done
}

// write is the writer goroutine: it writes batches until the queue is
// closed or a write fails.
func (b *batcher) write(ctx context.Context) {
	defer close(b.done)
	defer protostar.Recover(&b.err, "write chunk batch")
	for bt := range b.queue {
		if err := b.flush(ctx, bt); err != nil {
			b.err = err
			return
		}
		b.written.Add(int64(len(bt.rows)))
	}
}

// flush reuses embeddings of unchanged chunks, embeds the others and
// writes the batch.
func (b *batcher) flush(ctx context.Context, bt *batch) error {
	hashes := make([][]byte, len(bt.rows))
	for i, r := range bt.rows {
		hashes[i] = r.Hash
	}
	reuse, err := b.svc.store.ReusableEmbeddings(ctx, b.doc.ID, b.doc.IndexedVersion, b.set.Model, hashes)
	if err != nil {
		return err
	}
	var (
		missing []int
		texts   []string
	)
	for i := range bt.rows {
		if v, ok := reuse[string(bt.rows[i].Hash)]; ok {
			bt.rows[i].Embedding = v
			b.res.ChunksReused++
			continue
		}
		missing = append(missing, i)
		texts = append(texts, bt.texts[i])
	}
	if len(texts) > 0 {
		chars := 0
		for _, t := range texts {
			chars += len(t)
		}
		embedCtx, span := b.svc.cfg.Tracer.Start(ctx, "embed batch", trace.WithAttributes(
			attribute.String("protostar.embed.model", b.set.Model), attribute.Int("protostar.embed.batch_size", len(texts)),
			attribute.Int("protostar.embed.bytes", chars)))
		vecs, err := b.svc.embedder.Embed(embedCtx, texts)
		telemetry.End(span, err)
		if err != nil {
			return fmt.Errorf("embed %d chunks: %w", len(texts), err)
		}
		if len(vecs) != len(texts) {
			return fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
		}
		for k, i := range missing {
			if len(vecs[k]) != b.set.Dims {
				return protostar.Errorf(protostar.EINVALID, "embedder %s returned a %d-dimensional vector, the index holds %d",
					b.set.Model, len(vecs[k]), b.set.Dims)
			}
			bt.rows[i].Embedding = vecs[k]
		}
		b.res.ChunksEmbedded += len(texts)
	}
	copyCtx, span := b.svc.cfg.Tracer.Start(ctx, "copy chunks", trace.WithAttributes(attribute.Int("protostar.chunks", len(bt.rows)),
		attribute.Int("protostar.chunks_reused", len(bt.rows)-len(texts))))
	err = b.svc.store.CopyChunks(copyCtx, b.set, bt.rows)
	telemetry.End(span, err)
	return err
}
