// Package embedspace runs embedding spaces: it gives searches their
// tenant's active space and ingest every live one, each with an embedder
// built from the space's own settings (never from PROTOSTAR_EMBED_*, so
// no process writes one model's vectors into another's space), and it
// backfills a new space through the job queue.
package embedspace

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/protostar/protostar"
)

// Store reads the spaces.
type Store interface {
	Spaces(ctx context.Context) ([]protostar.EmbeddingSpace, error)
	// ActiveSpace returns the space the tenant's searches read.
	ActiveSpace(ctx context.Context, tenantID string) (protostar.EmbeddingSpace, error)
}

// Factory builds the embedder of a spec (provider credentials and
// endpoints come from the process's configuration).
type Factory func(spec protostar.SpaceSpec) (protostar.Embedder, error)

// Registry resolves spaces to embedders, building each space's embedder
// once. It is safe for concurrent use.
type Registry struct {
	store   Store
	factory Factory
	logger  *slog.Logger

	mu        sync.Mutex
	embedders map[int64]protostar.Embedder
}

// NewRegistry returns a registry over store.
func NewRegistry(logger *slog.Logger, store Store, factory Factory) *Registry {
	return &Registry{store: store, factory: factory, logger: logger.With("component", "embedspace"),
		embedders: map[int64]protostar.Embedder{}}
}

// Live returns every space chunk writes must fill (all but retired ones),
// read afresh from the database, with their embedders.
func (r *Registry) Live(ctx context.Context) ([]protostar.SpaceEmbedder, error) {
	spaces, err := r.store.Spaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []protostar.SpaceEmbedder
	for _, s := range spaces {
		if !s.Live() {
			continue
		}
		e, err := r.For(s)
		if err != nil {
			return nil, err
		}
		out = append(out, protostar.SpaceEmbedder{Space: s, Embedder: e})
	}
	return out, nil
}

// ForTenant returns the space the tenant's searches read, with its
// embedder for the query.
func (r *Registry) ForTenant(ctx context.Context, tenantID string) (protostar.SpaceEmbedder, error) {
	s, err := r.store.ActiveSpace(ctx, tenantID)
	if err != nil {
		return protostar.SpaceEmbedder{}, err
	}
	e, err := r.For(s)
	return protostar.SpaceEmbedder{Space: s, Embedder: e}, err
}

// For returns the embedder of space s. It checks that the embedder makes
// vectors of the space's dimension.
func (r *Registry) For(s protostar.EmbeddingSpace) (protostar.Embedder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.embedders[s.ID]; ok {
		return e, nil
	}
	e, err := r.factory(s.SpaceSpec)
	if err != nil {
		return nil, fmt.Errorf("embedder of embedding space %d (%s): %w", s.ID, s.Fingerprint, err)
	}
	if e.Dimensions() != s.Dimensions {
		return nil, protostar.Errorf(protostar.EINVALID, "embedder of space %d makes %d-dimensional vectors, the space holds %d",
			s.ID, e.Dimensions(), s.Dimensions)
	}
	r.embedders[s.ID] = e
	return e, nil
}

// CheckConfig warns when the configured embedding settings
// (PROTOSTAR_EMBED_*) differ from the active space's: the process then
// embeds with the active space's settings, and the configured model
// writes nowhere until a space is created for it.
func (r *Registry) CheckConfig(ctx context.Context, configured protostar.SpaceSpec) (protostar.EmbeddingSpace, error) {
	s, err := r.store.ActiveSpace(ctx, "")
	if err != nil {
		return s, err
	}
	if s.Fingerprint != configured.Fingerprint() {
		r.logger.Warn("PROTOSTAR_EMBED_* does not match the active embedding space; embedding with the active space's settings. "+
			"To change models, run `protostar embeddings create` and `backfill`, then `activate` (docs/embedding-models.md)",
			"configured", configured.Fingerprint(), "active_space", s.ID, "active", s.Fingerprint)
	}
	return s, nil
}
