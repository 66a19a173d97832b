package openai

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cenkalti/backoff/v5"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/protostar/protostar"
)

// Embedder embeds texts with an OpenAI-compatible embeddings endpoint. It is
// safe for concurrent use; all its requests share one throttle.
type Embedder struct {
	c *client
}

// NewEmbedder returns an Embedder. It fails with EINVALID when EmbedModel is
// empty, Dimensions is not positive or another field is invalid. It does no
// I/O.
func NewEmbedder(logger *slog.Logger, cfg Config) (*Embedder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.EmbedModel == "":
		return nil, protostar.Errorf(protostar.EINVALID, "openai: embedding model must be set")
	case cfg.Dimensions <= 0:
		return nil, protostar.Errorf(protostar.EINVALID, "openai: embedding dimensions must be positive, got %d", cfg.Dimensions)
	}
	logger = logger.With("component", "openai_embedder", "model", cfg.EmbedModel)
	return &Embedder{c: newClient(logger, cfg, cfg.EmbedModel, initialEmbedWindow)}, nil
}

// Model returns the embedding model's name.
func (e *Embedder) Model() string { return e.c.cfg.EmbedModel }

// Dimensions returns the length of every vector Embed returns.
func (e *Embedder) Dimensions() int { return e.c.cfg.Dimensions }

// Embed returns one vector per text, in the order of texts. Texts go out in
// batches of BatchSize, one request per batch and one batch after another,
// each retried whole on 429 (after Retry-After), 5xx and network errors.
//
// Errors: EINVALID (permanent) when the provider rejects a request (the
// message carries its status and explanation) or returns vectors whose
// length is not Dimensions(); EUNAVAILABLE when a batch still fails after
// the retry budget; ctx's error when ctx ends. No partial result is
// returned.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	size := e.c.cfg.BatchSize
	batches := (len(texts) + size - 1) / size
	for b := range batches {
		batch := texts[b*size : min((b+1)*size, len(texts))]
		what := fmt.Sprintf("embed batch %d/%d with %s", b+1, batches, e.Model())
		vecs, err := call(ctx, e.c, what, func(ctx context.Context) ([][]float32, error) {
			return e.embedBatch(ctx, what, batch)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// embedBatch sends one embeddings request and checks the response: one
// vector per input, each index once, each of length Dimensions.
func (e *Embedder) embedBatch(ctx context.Context, what string, batch []string) ([][]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, e.c.cfg.Timeout)
	defer cancel()
	e.c.logger.Debug("embeddings request", "op", what, "texts", len(batch))
	// EmbeddingRequest rather than EmbeddingRequestStrings: the latter
	// always sends "user":"", which some servers reject.
	req := goopenai.EmbeddingRequest{Input: batch, Model: goopenai.EmbeddingModel(e.Model())}
	if !e.c.cfg.OmitDimensions {
		req.Dimensions = e.Dimensions()
	}
	resp, err := e.c.api.CreateEmbeddings(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(resp.Data) != len(batch) {
		return nil, backoff.Permanent(protostar.Errorf(protostar.EINVALID,
			"%s: provider returned %d embeddings for %d texts", what, len(resp.Data), len(batch)))
	}
	vecs := make([][]float32, len(batch))
	for _, d := range resp.Data {
		switch {
		case d.Index < 0 || d.Index >= len(batch) || vecs[d.Index] != nil:
			return nil, backoff.Permanent(protostar.Errorf(protostar.EINVALID,
				"%s: provider returned an invalid or repeated embedding index %d", what, d.Index))
		case len(d.Embedding) != e.Dimensions():
			return nil, backoff.Permanent(protostar.Errorf(protostar.EINVALID,
				"embedding model %s returned %d-dimensional vectors but %d dimensions are configured", e.Model(), len(d.Embedding), e.Dimensions()))
		}
		vecs[d.Index] = d.Embedding
	}
	return vecs, nil
}
