// Package hashembed is the offline embedder: feature hashing of words and
// Hangul bigrams.
//
// Each text becomes the bag of its lexical terms (lower-cased words and
// Hangul/CJK syllable bigrams, exactly as package lexical defines them).
// Every distinct term is hashed with 64-bit FNV-1a into one of Dimensions
// buckets with a hash-derived sign (signed feature hashing, so collisions
// cancel out on average instead of piling up), weighted by sublinear term
// frequency 1+ln(tf), and the vector is L2-normalised. Cosine similarity of
// two embeddings is then a tf-weighted term-overlap score in which
// 데이터베이스 and 데이터베이스를 share five of their bigrams.
//
// Two models share the terms and weights. hash-v1 (New) puts each term in
// one bucket: a sparse vector. hash-v2-dense (NewModel(ModelDense, d))
// projects each term onto a dense random ±1/√d vector drawn from its hash
// (a signed random projection of the same feature vector, which keeps
// inner products in expectation, Johnson–Lindenstrauss): every dimension
// is set. The two never mix: spaces key on the model name. The dense one
// was measured against hash-v1 for HNSW search (docs/benchmarks.md, dense
// offline vectors) and is not the default.
//
// It needs no model weights, allocates only the output vectors and a little
// scratch per call, and is deterministic across processes, runs and
// machines: the hash is fixed and terms are summed in sorted hash order.
package hashembed

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/protostar/protostar"
)

// Dimension bounds accepted by New.
const (
	MinDimensions = 8
	MaxDimensions = 4096
)

// The models NewModel knows.
const (
	ModelSparse = "hash-v1"       // one signed bucket per term
	ModelDense  = "hash-v2-dense" // a dense signed random projection per term
)

// Embedder embeds texts by feature hashing. It is immutable and safe for
// concurrent use.
type Embedder struct {
	dim   int
	dense bool
}

// New returns an Embedder producing vectors of the given dimensions. It
// returns an EINVALID error naming the value unless 8 <= dimensions <= 4096.
func New(dimensions int) (*Embedder, error) {
	if dimensions < MinDimensions || dimensions > MaxDimensions {
		return nil, protostar.Errorf(protostar.EINVALID,
			"hash embedder dimensions %d out of range [%d, %d]", dimensions, MinDimensions, MaxDimensions)
	}
	return &Embedder{dim: dimensions}, nil
}

// NewModel returns an Embedder of the named model (ModelSparse or
// ModelDense) and dimensions. It returns an EINVALID error naming the
// value for another model or dimensions New refuses.
func NewModel(model string, dimensions int) (*Embedder, error) {
	if model != ModelSparse && model != ModelDense {
		return nil, protostar.Errorf(protostar.EINVALID,
			"hash embedder model %q unknown: use %s or %s", model, ModelSparse, ModelDense)
	}
	e, err := New(dimensions)
	if err != nil {
		return nil, err
	}
	e.dense = model == ModelDense
	return e, nil
}

// Model names the algorithm; it changes whenever vectors would change, so
// stored embeddings from another version are never mixed with new ones.
func (e *Embedder) Model() string {
	if e.dense {
		return ModelDense
	}
	return ModelSparse
}

// Dimensions is the length of every vector Embed returns.
func (e *Embedder) Dimensions() int { return e.dim }

// Embed returns one unit-length vector per text, in input order. Equal texts
// always get bit-identical vectors.
//
// A text without terms (empty, white space, punctuation, single Latin
// letters), or in the rare case that all its terms cancel out in shared
// buckets, gets the fixed unit vector e₀ (1 in bucket 0) rather than the zero
// vector: pgvector's cosine distance to a zero vector is NaN, which would
// poison ORDER BY and score fusion. Such texts all look alike and are nearly
// orthogonal to real text.
//
// Embed checks ctx before each text and, once ctx is done, returns its error
// wrapped and no vectors.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	backing := make([]float32, len(texts)*e.dim)
	var (
		sc     termScanner
		hashes []uint64
	)
	collect := func(term []byte) { hashes = append(hashes, hashTerm(term)) }
	for i, text := range texts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embed text %d of %d: %w", i+1, len(texts), err)
		}
		hashes = hashes[:0]
		sc.scan(text, collect)
		v := backing[i*e.dim : (i+1)*e.dim : (i+1)*e.dim]
		e.fill(v, hashes)
		out[i] = v
	}
	return out, nil
}

// fill writes the normalised hashed vector of the term hashes into v, which
// must be zeroed. It sorts hashes in place.
func (e *Embedder) fill(v []float32, hashes []uint64) {
	if len(hashes) == 0 {
		v[0] = 1
		return
	}
	slices.Sort(hashes) // groups equal terms and fixes the summation order
	dim := uint64(e.dim)
	for i := 0; i < len(hashes); {
		h := hashes[i]
		j := i + 1
		for j < len(hashes) && hashes[j] == h {
			j++
		}
		w := 1.0
		if tf := j - i; tf > 1 {
			w += math.Log(float64(tf))
		}
		switch {
		case e.dense:
			project(v, h, w)
		case h>>63 != 0:
			v[h%dim] -= float32(w)
		default:
			v[h%dim] += float32(w)
		}
		i = j
	}
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 { // every term cancelled out in shared buckets
		v[0] = 1
		return
	}
	inv := 1 / math.Sqrt(sum)
	for k, x := range v {
		v[k] = float32(float64(x) * inv)
	}
}

// project adds w times the term's random ±1 vector to v: its signs are the
// bits of a SplitMix64 stream seeded with the term's hash, 64 dimensions
// per draw. The common 1/√d scale is left to the normalisation.
func project(v []float32, h uint64, w float64) {
	pos, neg := float32(w), float32(-w)
	state := h
	for k := 0; k < len(v); k += 64 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := k; j < min(k+64, len(v)); j++ {
			if z&1 != 0 {
				v[j] += neg
			} else {
				v[j] += pos
			}
			z >>= 1
		}
	}
}

// hashTerm is 64-bit FNV-1a followed by the MurmurHash3 finaliser, so that
// the bucket (low bits, modulo) and the sign (top bit) are independent even
// for the short terms that dominate: Hangul bigrams are six bytes.
func hashTerm(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
