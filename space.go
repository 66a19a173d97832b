package protostar

import (
	"context"
	"fmt"
	"time"
)

// Embedding space states. A space is written by ingest from its creation
// until it is retired, and searched only while it is a tenant's active one.
const (
	// SpaceBuilding: created, being backfilled; written, not searched.
	SpaceBuilding = "building"
	// SpaceActive: the space every tenant without a space of its own
	// searches. Exactly one space is active.
	SpaceActive = "active"
	// SpaceStandby: a former active space kept, and still written, for a
	// rollback until it is retired.
	SpaceStandby = "standby"
	// SpaceRetired: its vectors and index are (being) dropped; nothing
	// writes or reads it again.
	SpaceRetired = "retired"
)

// HalfvecAbove is the dimension above which a space's index stores
// half-precision vectors: pgvector's HNSW indexes vector up to 2,000
// dimensions and halfvec up to 4,000.
const HalfvecAbove = 2000

// Element types of a space's HNSW index. The vectors are stored in full
// precision either way; a halfvec index holds them at half precision (2
// bytes a dimension instead of 4): about half the index size and a faster
// build, at the same recall on the benchmark's corpus (docs/benchmarks.md,
// growth curves). Search ranks its hits by full-precision distance.
const (
	IndexVector  = "vector"
	IndexHalfvec = "halfvec"
)

// SpaceSpec is what decides an embedding space's vectors: two processes
// with the same spec embed the same text to the same vector. Index is the
// exception: how the vectors are indexed, not what they are, so it is not
// part of the fingerprint.
type SpaceSpec struct {
	Provider   string `json:"provider" doc:"hash (offline) or openai (any OpenAI-compatible endpoint)" example:"openai"`
	Model      string `json:"model" example:"text-embedding-3-large"`
	Dimensions int    `json:"dimensions" example:"1024"`
	// SendDimensions: the openai provider sends `dimensions` (a model that
	// truncates its vectors on request gives different ones without it).
	SendDimensions bool `json:"send_dimensions" doc:"openai: the request sends dimensions"`
	// Index is the HNSW index's element type, IndexVector or IndexHalfvec;
	// empty means IndexType's default.
	Index string `json:"index" doc:"HNSW index element type: vector, halfvec, or empty for the default (vector; halfvec above 2000 dimensions)"`
}

// IndexType is the element type the space's index holds: halfvec above
// HalfvecAbove dimensions (vector cannot be indexed there), else Index,
// vector by default.
func (s SpaceSpec) IndexType() string {
	if s.Dimensions > HalfvecAbove {
		return IndexHalfvec
	}
	if s.Index == "" {
		return IndexVector
	}
	return s.Index
}

// Fingerprint names the spec's settings that change vectors.
func (s SpaceSpec) Fingerprint() string {
	fp := fmt.Sprintf("%s/%s/%d", s.Provider, s.Model, s.Dimensions)
	if s.Provider == "openai" && !s.SendDimensions {
		fp += "/native"
	}
	return fp
}

// WithIndexDefault returns s with Index def if it names none: the
// configured type (PROTOSTAR_VECTOR_INDEX) of a space created without a
// choice. Above HalfvecAbove dimensions the index is halfvec whatever the
// default.
func (s SpaceSpec) WithIndexDefault(def string) SpaceSpec {
	if s.Index == "" && s.Dimensions <= HalfvecAbove {
		s.Index = def
	}
	return s
}

// Validate reports a spec no space can be made of as EINVALID.
func (s SpaceSpec) Validate() error {
	switch {
	case s.Provider != "hash" && s.Provider != "openai":
		return Errorf(EINVALID, "provider must be hash or openai, got %q", s.Provider)
	case s.Model == "":
		return Errorf(EINVALID, "model must not be empty")
	case s.Provider == "hash" && s.Model != "hash-v1" && s.Model != "hash-v2-dense": // package hashembed's models
		return Errorf(EINVALID, "the hash provider's model must be hash-v1 or hash-v2-dense, got %q", s.Model)
	case s.Dimensions < 8 || s.Dimensions > 4000:
		return Errorf(EINVALID, "dimensions must be between 8 and 4000 (pgvector's halfvec HNSW limit), got %d", s.Dimensions)
	case s.Index != "" && s.Index != IndexVector && s.Index != IndexHalfvec:
		return Errorf(EINVALID, "index must be vector or halfvec, got %q", s.Index)
	case s.Index == IndexVector && s.Dimensions > HalfvecAbove:
		return Errorf(EINVALID, "a vector index holds at most %d dimensions, got %d: use index halfvec", HalfvecAbove, s.Dimensions)
	}
	return nil
}

// EmbeddingSpace is one embedding model's vectors of every chunk, with its
// own HNSW index. Chunk rows (text, terms) are shared by all spaces.
type EmbeddingSpace struct {
	ID int64 `json:"id" example:"2"`
	SpaceSpec
	Fingerprint string     `json:"fingerprint"`
	State       string     `json:"state" enum:"building,active,standby,retired" example:"active" doc:"building: written, not searched; active: searched by every tenant without a space of its own; standby: searched before, still written (rollback returns to it); retired: neither"`
	PreviousID  int64      `json:"previous_id,omitempty" doc:"The space a rollback returns to"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
}

// Live reports whether ingest writes the space.
func (s EmbeddingSpace) Live() bool { return s.State != SpaceRetired }

// SpaceCoverage is how much of one tenant's live chunks a space holds.
type SpaceCoverage struct {
	TenantID      string `json:"tenant_id"`
	Chunks        int64  `json:"chunks" doc:"Chunks of the tenant's active document versions"`
	Embedded      int64  `json:"embedded" doc:"Of them, those with a vector in the space"`
	MissingTokens int64  `json:"missing_tokens" doc:"Tokens of the rest: what a backfill sends the provider"`
	// Backfill is the tenant's latest backfill job of the space, if any.
	Backfill *Job `json:"backfill,omitempty"`
}

// SpaceBackfillResult is the result of a finished embed_backfill job.
type SpaceBackfillResult struct {
	Space    int64 `json:"space"`
	Embedded int   `json:"chunks_embedded"` // vectors computed by the provider
	Reused   int   `json:"chunks_reused"`   // vectors copied from equal chunks already in the space
}

// Embedder turns texts into vectors of Dimensions() floats, one per text
// in order. Each provider (hash, openai) implements it.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Model() string
	Dimensions() int
}

// SpaceEmbedder is an embedding space with the embedder that makes its
// vectors, built from the space's own settings.
type SpaceEmbedder struct {
	Space    EmbeddingSpace
	Embedder Embedder
}

// StoredChunk is a stored chunk as a backfill embeds it again.
type StoredChunk struct {
	ID          int64
	Hash        []byte // content hash of its embedded text
	HeadingPath []string
	Text        string
}
