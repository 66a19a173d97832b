package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/lexical"
	"github.com/protostar/protostar/internal/markdown"
)

// Chunking as the service does it with its default configuration.
var chunkOptions = markdown.Options{MaxTokens: 512, OverlapTokens: 64}

const embedDims = 384 // PROTOSTAR_EMBED_DIMENSIONS default

// chunkDocument chunks data exactly as the ingest worker does and returns
// the rows it would write, without embeddings.
func chunkDocument(data []byte) ([]protostar.Chunk, []string, error) {
	ch, err := markdown.NewChunker(bytes.NewReader(data), chunkOptions)
	if err != nil {
		return nil, nil, err
	}
	var (
		rows  []protostar.Chunk
		texts []string
	)
	for {
		c, err := ch.Next()
		if errors.Is(err, io.EOF) {
			return rows, texts, nil
		}
		if err != nil {
			return nil, nil, err
		}
		row, text := chunkRow(c, len(rows))
		rows = append(rows, row)
		texts = append(texts, text)
	}
}

// chunkRow is the row the worker writes for c (embedding aside) and the
// text it embeds: the heading path as breadcrumbs, then the chunk.
func chunkRow(c markdown.Chunk, ordinal int) (protostar.Chunk, string) {
	text := c.Text
	if len(c.HeadingPath) > 0 {
		text = strings.Join(c.HeadingPath, " > ") + "\n" + c.Text
	}
	h := sha256.Sum256([]byte(text))
	return protostar.Chunk{Ordinal: ordinal, HeadingPath: c.HeadingPath, Text: c.Text, Hash: h[:],
		Tokens: c.Tokens, Terms: strings.Join(lexical.Terms(text), " ")}, text
}

// prepareDocument chunks and embeds a document: the rows ready for COPY.
func prepareDocument(ctx context.Context, emb *hashembed.Embedder, data []byte) ([]protostar.Chunk, error) {
	rows, texts, err := chunkDocument(data)
	if err != nil {
		return nil, err
	}
	vecs, err := emb.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Embedding = vecs[i]
	}
	return rows, nil
}

// docRows is a document's chunk rows with the ids they are written under.
type docRows struct {
	TenantID   string
	DocumentID string
	Rows       []protostar.Chunk
}

var chunkColumns = []string{"tenant_id", "document_id", "version", "ordinal", "heading_path", "text",
	"content_hash", "tokens", "embedding", "embed_model", "embed_dim", "terms"}

// copyRows writes the rows of docs as version 1 of each document with one
// COPY statement and returns the number of rows.
func copyRows(ctx context.Context, db *database, model string, docs []docRows) (int64, error) {
	d, r := 0, 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for d < len(docs) && r == len(docs[d].Rows) {
			d, r = d+1, 0
		}
		if d == len(docs) {
			return nil, nil
		}
		doc, c := docs[d], docs[d].Rows[r]
		r++
		path := c.HeadingPath
		if path == nil {
			path = []string{}
		}
		return []any{doc.TenantID, doc.DocumentID, 1, c.Ordinal, path, c.Text, c.Hash, c.Tokens,
			pgvector.NewVector(c.Embedding), model, len(c.Embedding), c.Terms}, nil
	})
	n, err := db.DB.Pool().CopyFrom(ctx, pgx.Identifier{"chunks"}, chunkColumns, src)
	if err != nil {
		return n, fmt.Errorf("copy chunks: %w", err)
	}
	return n, nil
}

// insertDocuments creates documents of tenant for keys with the given
// status (a ready one has indexed version 1 and counts[i] chunks) and
// returns their ids in the order of keys.
func insertDocuments(ctx context.Context, db *database, tenant string, keys []string, counts []int, status string) ([]string, error) {
	if counts == nil {
		counts = make([]int, len(keys))
	}
	rows, err := db.DB.Pool().Query(ctx, `INSERT INTO documents (id, tenant_id, key, status, indexed_version, chunk_count, indexed_at)
		SELECT gen_random_uuid(), $1, k, $3, CASE WHEN $3 = 'ready' THEN 1 ELSE 0 END, n,
			CASE WHEN $3 = 'ready' THEN now() END
		FROM unnest($2::text[], $4::int[]) AS u(k, n)
		RETURNING key, id::text`, tenant, keys, status, counts)
	if err != nil {
		return nil, fmt.Errorf("insert documents: %w", err)
	}
	byKey := make(map[string]string, len(keys))
	var key, id string
	_, err = pgx.ForEachRow(rows, []any{&key, &id}, func() error { byKey[key] = id; return nil })
	if err != nil {
		return nil, fmt.Errorf("insert documents: %w", err)
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		if ids[i] = byKey[k]; ids[i] == "" {
			return nil, fmt.Errorf("document %q was not inserted", k)
		}
	}
	return ids, nil
}
