package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/markdown"
)

// copyStore records CopyChunks calls and fails the call numbered failAt
// (1-based; 0 never fails).
type copyStore struct {
	Store
	mu     sync.Mutex
	calls  int
	rows   []protostar.Chunk
	failAt int
}

func (s *copyStore) ReusableEmbeddings(context.Context, string, int, int64, [][]byte) (map[string][]float32, error) {
	return nil, nil
}

// oneSpace is a single live embedding space (id 1) of the hash embedder.
type oneSpace struct{ emb *hashembed.Embedder }

func (s oneSpace) Live(context.Context) ([]protostar.SpaceEmbedder, error) {
	return []protostar.SpaceEmbedder{{Space: protostar.EmbeddingSpace{ID: 1, SpaceSpec: protostar.SpaceSpec{Provider: "hash",
		Model: s.emb.Model(), Dimensions: s.emb.Dimensions()}, State: protostar.SpaceActive}, Embedder: s.emb}}, nil
}

func (s *copyStore) CopyChunks(_ context.Context, _ protostar.ChunkSet, rows []protostar.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == s.failAt {
		return errors.New("copy failed")
	}
	s.rows = append(s.rows, rows...)
	return nil
}

func newTestBatcher(t *testing.T, store Store) *batcher {
	t.Helper()
	emb, _ := hashembed.New(8)
	svc, err := New(slog.New(slog.DiscardHandler), store, nil, oneSpace{emb}, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return newBatcher(context.Background(), svc, protostar.Document{ID: "d"},
		protostar.ChunkSet{DocumentID: "d", Version: 1}, 3)
}

func TestBatcherWritesEveryChunkInOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	store := &copyStore{}
	b := newTestBatcher(t, store)
	for i := range 10 {
		if err := b.add(context.Background(), markdown.Chunk{Text: "chunk " + strconv.Itoa(i), Tokens: 2}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := b.close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.abort() // safe after close
	if res.ChunksTotal != 10 || res.ChunksEmbedded != 10 || store.calls != 4 || len(store.rows) != 10 {
		t.Fatalf("result %+v after %d copies of %d rows", res, store.calls, len(store.rows))
	}
	for i, r := range store.rows {
		if r.Ordinal != i || r.Text != "chunk "+strconv.Itoa(i) || len(r.Embeddings[1]) != 8 || len(r.Hash) != 32 || r.Terms == "" {
			t.Fatalf("row %d = %+v", i, r)
		}
	}
}

func TestBatcherStopsAtTheFirstFailedWrite(t *testing.T) {
	defer goleak.VerifyNone(t)
	store := &copyStore{failAt: 2}
	b := newTestBatcher(t, store)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = b.add(context.Background(), markdown.Chunk{Text: "chunk " + strconv.Itoa(i), Tokens: 2})
	}
	if err == nil {
		_, err = b.close(context.Background())
	}
	b.abort()
	if err == nil || err.Error() != "copy failed" {
		t.Fatalf("err = %v, want the copy's error", err)
	}
	if store.calls != 2 {
		t.Fatalf("%d copies after the failure, want none", store.calls-2)
	}
}

func TestBatcherAbortStopsTheWriter(t *testing.T) {
	defer goleak.VerifyNone(t)
	store := &copyStore{}
	b := newTestBatcher(t, store)
	for i := range 4 {
		if err := b.add(context.Background(), markdown.Chunk{Text: "chunk " + strconv.Itoa(i), Tokens: 2}); err != nil {
			t.Fatal(err)
		}
	}
	b.abort()
	b.abort()
}
