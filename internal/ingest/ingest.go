// Package ingest is the ingest worker: it streams a document's object
// from the object store, chunks it Markdown-aware, embeds only the chunks
// whose content changed, stores them as a new version and swaps that version
// in atomically. Memory stays bounded by one batch of chunks whatever the
// object's size.
package ingest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/markdown"
	"github.com/protostar/protostar/internal/telemetry"
	"github.com/protostar/protostar/internal/worker"
)

// Store is what ingestion needs from the database.
type Store interface {
	// DocumentByID returns the document and whether it is deleted.
	DocumentByID(ctx context.Context, id string) (protostar.Document, bool, error)
	MarkIndexing(ctx context.Context, documentID string, version int) error
	CancelJob(ctx context.Context, id, reason string) error
	DeleteVersion(ctx context.Context, set protostar.ChunkSet) error
	// ReusableEmbeddings returns the vectors in space of that version's
	// chunks with any of hashes, by hash.
	ReusableEmbeddings(ctx context.Context, documentID string, version int, space int64, hashes [][]byte) (map[string][]float32, error)
	// CopyChunks fails with protostar.ErrSpacesChanged when a row lacks a
	// vector of a live space.
	CopyChunks(ctx context.Context, set protostar.ChunkSet, rows []protostar.Chunk) error
	// ActivateVersion swaps the job's version in; false means superseded.
	ActivateVersion(ctx context.Context, j protostar.Job, ix protostar.Indexed) (bool, error)
	CompleteUnchanged(ctx context.Context, j protostar.Job, res protostar.IngestResult) error
}

// Objects streams source objects. Open fails with ENOTFOUND for a missing
// key and EUNAVAILABLE when the store cannot be reached.
type Objects interface {
	Open(ctx context.Context, key string) (io.ReadCloser, protostar.ObjectInfo, error)
}

// Spaces lists the embedding spaces chunk writes fill, with the embedder
// of each (built from the space's settings).
type Spaces interface {
	Live(ctx context.Context) ([]protostar.SpaceEmbedder, error)
}

// Config tunes ingestion.
type Config struct {
	MaxTokens     int          // chunk token budget
	OverlapTokens int          // overlap between consecutive chunks of a section
	BatchSize     int          // chunks embedded and written per batch; default 256
	MaxChunks     int          // chunks one document may have (PROTOSTAR_MAX_CHUNKS_PER_DOCUMENT); 0: no limit
	Tracer        trace.Tracer // nil: no spans
}

// Service ingests documents.
type Service struct {
	store   Store
	objects Objects
	spaces  Spaces
	runner  *worker.Runner
	cfg     Config
	tokens  *markdown.TokenCache // shared by every document's chunker
	logger  *slog.Logger
}

// New returns an ingest service that writes every chunk's vector in each
// live embedding space of spaces.
func New(logger *slog.Logger, store Store, objects Objects, spaces Spaces, runner *worker.Runner, cfg Config) (*Service, error) {
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 256)
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Service{store: store, objects: objects, spaces: spaces, runner: runner, cfg: cfg,
		tokens: markdown.NewTokenCache(), logger: logger.With("component", "ingest")}, nil
}

// Handle runs the ingest job with the given id; it is the queue handler.
func (s *Service) Handle(ctx context.Context, jobID string) error {
	return s.runner.Run(ctx, jobID, s.ingest)
}

func (s *Service) ingest(ctx context.Context, j protostar.Job, p *worker.Progress) error {
	doc, deleted, err := s.store.DocumentByID(ctx, j.DocumentID)
	if err != nil {
		return fmt.Errorf("load document %s: %w", j.DocumentID, err)
	}
	switch {
	case deleted:
		return s.store.CancelJob(ctx, j.ID, "document deleted")
	case doc.Version > j.Version:
		return s.store.CancelJob(ctx, j.ID, fmt.Sprintf("superseded by version %d", doc.Version))
	}
	if err := s.store.MarkIndexing(ctx, doc.ID, j.Version); err != nil {
		return err
	}
	openCtx, span := s.cfg.Tracer.Start(ctx, "s3 open", trace.WithSpanKind(trace.SpanKindClient))
	body, info, err := s.open(openCtx, j, doc)
	span.SetAttributes(attribute.Int64("protostar.object.size", info.Size))
	telemetry.End(span, err)
	if err != nil {
		return fmt.Errorf("open object %q: %w", doc.Key, err)
	}
	defer body.Close()

	if !params(j).Force && doc.IndexedVersion > 0 && info.ETag != "" && info.ETag == doc.ETag && doc.IndexFingerprint == s.fingerprint() {
		res := protostar.IngestResult{ChunksTotal: doc.ChunkCount, ChunksReused: doc.ChunkCount}
		s.logger.Info("object unchanged, keeping indexed version", "document_id", doc.ID, "etag", info.ETag)
		return s.store.CompleteUnchanged(ctx, j, res)
	}
	ix, err := s.index(ctx, j, doc, body, info, p)
	if err != nil {
		return err
	}
	swapCtx, span := s.cfg.Tracer.Start(ctx, "ingest activate version", trace.WithAttributes(telemetry.KeyVersion.Int(j.Version),
		attribute.Int("protostar.chunks", ix.Chunks)))
	ok, err := s.store.ActivateVersion(swapCtx, j, ix)
	telemetry.End(span, err)
	if err != nil {
		return err
	} else if !ok {
		s.logger.Info("version superseded before activation", "document_id", doc.ID, "version", j.Version)
	}
	return nil
}

// index streams, chunks, embeds and writes the job's version of doc.
func (s *Service) index(ctx context.Context, j protostar.Job, doc protostar.Document, body io.Reader, info protostar.ObjectInfo,
	p *worker.Progress) (ix protostar.Indexed, err error) {
	ctx, span := s.cfg.Tracer.Start(ctx, "ingest read and chunk")
	defer func() {
		span.SetAttributes(attribute.Int64("protostar.bytes_read", ix.Size), attribute.Int("protostar.chunks", ix.Chunks))
		telemetry.End(span, err)
	}()
	set := protostar.ChunkSet{TenantID: doc.TenantID, DocumentID: doc.ID, Version: j.Version, JobID: j.ID, Attempt: j.Attempts}
	// Rows of this version left by a crashed or replaced earlier attempt.
	if err := s.store.DeleteVersion(ctx, set); err != nil {
		return protostar.Indexed{}, err
	}
	sum := sha256.New()
	chunker, err := markdown.NewChunker(io.TeeReader(body, sum), markdown.Options{MaxTokens: s.cfg.MaxTokens, OverlapTokens: s.cfg.OverlapTokens, Tokens: s.tokens})
	if err != nil {
		return protostar.Indexed{}, protostar.Wrap(protostar.EINVALID, err, "chunker options")
	}
	b := newBatcher(ctx, s, doc, set, s.cfg.BatchSize)
	defer b.abort()
	for n := 1; ; n++ {
		c, err := chunker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return protostar.Indexed{}, readError(doc.Key, err)
		}
		if s.cfg.MaxChunks > 0 && n > s.cfg.MaxChunks {
			return protostar.Indexed{}, protostar.Errorf(protostar.ETOOLARGE,
				"object %q makes more than %d chunks (PROTOSTAR_MAX_CHUNKS_PER_DOCUMENT); split it or raise the limit", doc.Key, s.cfg.MaxChunks)
		}
		if err := b.add(ctx, c); err != nil {
			return protostar.Indexed{}, err
		}
		if n%s.cfg.BatchSize == 0 {
			done := int(b.written.Load())
			p.Set(done, estimateTotal(n, chunker.BytesRead(), info.Size))
		}
	}
	res, err := b.close(ctx)
	if err != nil {
		return protostar.Indexed{}, err
	}
	res.BytesRead = chunker.BytesRead()
	if fm := chunker.FrontMatter(); fm != nil {
		if err := protostar.ValidateMetadata("front matter", fm); err != nil {
			return protostar.Indexed{}, fmt.Errorf("object %q: %w", doc.Key, err)
		}
	}
	p.Set(res.ChunksTotal, res.ChunksTotal)
	return protostar.Indexed{
		ContentHash: contentHash(sum),
		ETag:        info.ETag,
		Size:        res.BytesRead,
		Chunks:      res.ChunksTotal,
		FrontMatter: chunker.FrontMatter(),
		Result:      res,
		Fingerprint: s.fingerprint(),
	}, nil
}

// readError classifies an error from reading and chunking the object.
func readError(key string, err error) error {
	if errors.Is(err, markdown.ErrNotText) {
		return protostar.Wrap(protostar.EINVALID, err, "object %q is not UTF-8 Markdown text (%s)", key, err)
	}
	var pe *protostar.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("read object %q: %w", key, err)
	}
	// A stream that breaks mid-read is a transient store failure.
	return protostar.Wrap(protostar.EUNAVAILABLE, err, "reading object %q failed", key)
}

// chunkerVersion changes whenever the chunker cuts the same text
// differently (2: small sections are packed together).
const chunkerVersion = 2

// termsVersion changes whenever the same text gets different index terms
// (2: English words stemmed, stop words left out, term counts for BM25).
const termsVersion = 2

// fingerprint names what besides an object's bytes decides its chunks.
// The ETag shortcut (an unchanged object keeps its version) holds only
// while it is the same: after a change of chunk settings the object is
// indexed again. Embedding models are not in it: a new model is an
// embedding space, filled by a backfill, not by indexing objects again.
func (s *Service) fingerprint() string {
	return fmt.Sprintf("chunk=v%d/%d/%d terms=v%d", chunkerVersion, s.cfg.MaxTokens, s.cfg.OverlapTokens, termsVersion)
}

// jobParams are an ingest job's parameters.
type jobParams struct {
	// Force re-reads the object even when its ETag is unchanged (reindex).
	Force bool `json:"force"`
	// Staged is the upload's staging key: the API promotes it to the live
	// key after the commit, and the job reads it while it is there, so the
	// job indexes exactly the upload that was accepted.
	Staged string `json:"staged"`
}

func params(j protostar.Job) jobParams {
	var p jobParams
	_ = json.Unmarshal(j.Params, &p)
	return p
}

// open opens the object the job indexes: its staged upload while that is
// still there, else the document's live object (the promoted copy of the
// same bytes, or, for a submission by key, what the producer wrote).
func (s *Service) open(ctx context.Context, j protostar.Job, doc protostar.Document) (io.ReadCloser, protostar.ObjectInfo, error) {
	if staged := params(j).Staged; staged != "" {
		body, info, err := s.objects.Open(ctx, staged)
		if protostar.ErrorCode(err) != protostar.ENOTFOUND {
			return body, info, err
		}
	}
	return s.objects.Open(ctx, protostar.ObjectKey(doc.TenantID, doc.Key))
}

func contentHash(h hash.Hash) string {
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func estimateTotal(done int, read, size int64) int {
	if read <= 0 || size <= read {
		return done
	}
	return max(done, int(float64(done)*float64(size)/float64(read)))
}

// EmbedText is what the embedder sees of a chunk with the given heading
// path and text: the breadcrumbs give a chunk the context of its section.
// A chunk's content hash is of this text, and a backfill embeds it again
// from the stored row.
func EmbedText(headingPath []string, text string) string {
	if len(headingPath) == 0 {
		return text
	}
	return strings.Join(headingPath, " > ") + "\n" + text
}
