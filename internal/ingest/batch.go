package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
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
	text := EmbedText(c.HeadingPath, c.Text)
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

// flush gives every row a vector in every live embedding space — reused
// from the active version's unchanged chunks or embedded — and writes the
// batch. A space created meanwhile makes the write fail with
// protostar.ErrSpacesChanged; the batch then gets that space's vectors
// and is written again.
func (b *batcher) flush(ctx context.Context, bt *batch) error {
	for try := 1; ; try++ {
		spaces, err := b.svc.spaces.Live(ctx)
		if err != nil {
			return fmt.Errorf("list embedding spaces: %w", err)
		}
		computed := make([]bool, len(bt.rows))
		for _, sp := range spaces {
			if err := b.fill(ctx, bt, sp, computed); err != nil {
				return err
			}
		}
		copyCtx, span := b.svc.cfg.Tracer.Start(ctx, "copy chunks", trace.WithAttributes(attribute.Int("protostar.chunks", len(bt.rows)),
			attribute.Int("protostar.embedding_spaces", len(spaces))))
		err = b.svc.store.CopyChunks(copyCtx, b.set, bt.rows)
		telemetry.End(span, err)
		if errors.Is(err, protostar.ErrSpacesChanged) && try < 3 {
			continue
		}
		if err == nil {
			for _, c := range computed {
				if c {
					b.res.ChunksEmbedded++
				} else {
					b.res.ChunksReused++
				}
			}
		}
		return err
	}
}

// fill sets the vectors in space sp of the batch's rows that lack one:
// reused by content hash from the active version, or embedded with the
// space's embedder. computed marks the rows it embedded.
func (b *batcher) fill(ctx context.Context, bt *batch, sp protostar.SpaceEmbedder, computed []bool) error {
	id := sp.Space.ID
	var hashes [][]byte
	for _, r := range bt.rows {
		if _, ok := r.Embeddings[id]; !ok {
			hashes = append(hashes, r.Hash)
		}
	}
	if len(hashes) == 0 {
		return nil
	}
	reuse, err := b.svc.store.ReusableEmbeddings(ctx, b.doc.ID, b.doc.IndexedVersion, id, hashes)
	if err != nil {
		return err
	}
	var (
		missing []int
		texts   []string
		chars   int
	)
	for i := range bt.rows {
		r := &bt.rows[i]
		if _, ok := r.Embeddings[id]; ok {
			continue
		}
		if r.Embeddings == nil {
			r.Embeddings = map[int64][]float32{}
		}
		if v, ok := reuse[string(r.Hash)]; ok {
			r.Embeddings[id] = v
			continue
		}
		missing = append(missing, i)
		texts = append(texts, bt.texts[i])
		chars += len(bt.texts[i])
	}
	if len(texts) == 0 {
		return nil
	}
	embedCtx, span := b.svc.cfg.Tracer.Start(ctx, "embed batch", trace.WithAttributes(
		attribute.String("protostar.embed.model", sp.Embedder.Model()), attribute.Int64("protostar.embed.space", id),
		attribute.Int("protostar.embed.batch_size", len(texts)), attribute.Int("protostar.embed.bytes", chars)))
	vecs, err := sp.Embedder.Embed(embedCtx, texts)
	telemetry.End(span, err)
	if err != nil {
		return fmt.Errorf("embed %d chunks for space %d: %w", len(texts), id, err)
	}
	if len(vecs) != len(texts) {
		return fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	for k, i := range missing {
		if len(vecs[k]) != sp.Space.Dimensions {
			return protostar.Errorf(protostar.EINVALID, "embedder %s returned a %d-dimensional vector, space %d holds %d",
				sp.Embedder.Model(), len(vecs[k]), id, sp.Space.Dimensions)
		}
		bt.rows[i].Embeddings[id] = vecs[k]
		computed[i] = true
	}
	return nil
}
