package ingest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
	"github.com/protostar/protostar/internal/markdown"
)

// batcher accumulates chunks, reuses embeddings of unchanged chunks from
// the active version, embeds the rest and writes the batch with COPY.
type batcher struct {
	svc   *Service
	doc   protostar.Document
	set   protostar.ChunkSet
	rows  []protostar.Chunk
	texts []string // embed text per row
	res   protostar.IngestResult
}

func (b *batcher) add(c markdown.Chunk) {
	text := embedText(c)
	h := sha256.Sum256([]byte(text))
	var terms strings.Builder
	lexical.EachTerm(text, func(t string) {
		if terms.Len() > 0 {
			terms.WriteByte(' ')
		}
		terms.WriteString(t)
	})
	b.rows = append(b.rows, protostar.Chunk{
		Ordinal:     b.res.ChunksTotal + len(b.rows),
		HeadingPath: c.HeadingPath,
		Text:        c.Text,
		Hash:        h[:],
		Tokens:      c.Tokens,
		Terms:       terms.String(),
	})
	b.texts = append(b.texts, text)
}

func (b *batcher) flush(ctx context.Context) error {
	if len(b.rows) == 0 {
		return nil
	}
	hashes := make([][]byte, len(b.rows))
	for i, r := range b.rows {
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
	for i := range b.rows {
		if v, ok := reuse[string(b.rows[i].Hash)]; ok {
			b.rows[i].Embedding = v
			b.res.ChunksReused++
			continue
		}
		missing = append(missing, i)
		texts = append(texts, b.texts[i])
	}
	if len(texts) > 0 {
		vecs, err := b.svc.embedder.Embed(ctx, texts)
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
			b.rows[i].Embedding = vecs[k]
		}
		b.res.ChunksEmbedded += len(texts)
	}
	if err := b.svc.store.CopyChunks(ctx, b.set, b.rows); err != nil {
		return err
	}
	b.res.ChunksTotal += len(b.rows)
	b.rows, b.texts = b.rows[:0], b.texts[:0]
	return nil
}
