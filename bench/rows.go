package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/ingest"
	"github.com/protostar/protostar/internal/markdown"
	"github.com/protostar/protostar/internal/postgres"
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
		row, text := ingest.ChunkRow(c, len(rows))
		rows = append(rows, row)
		texts = append(texts, text)
	}
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
		rows[i].Embeddings = map[int64][]float32{benchSpace: vecs[i]}
	}
	return rows, nil
}

// benchSpace is the embedding space a freshly migrated database starts
// with (the hash embedder's): the bench's vectors are written to it and
// searched in it.
const benchSpace int64 = 1

// docRows is a document's chunk rows with the ids they are written under.
type docRows struct {
	TenantID   string
	DocumentID string
	Rows       []protostar.Chunk
}

// copyRows writes the rows of docs as version 1 of each document with one
// COPY statement, as postgres.CopyChunkSets does, and returns the number of
// rows.
func copyRows(ctx context.Context, db *database, docs []docRows) (int64, error) {
	sets := make([]postgres.SetRows, len(docs))
	for i, d := range docs {
		sets[i] = postgres.SetRows{Rows: d.Rows, Set: protostar.ChunkSet{TenantID: d.TenantID, DocumentID: d.DocumentID, Version: 1}}
	}
	return db.DB.CopyChunkSets(ctx, sets)
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
