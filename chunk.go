package protostar

import (
	"errors"
	"time"
)

// Chunk is one stored chunk of a document version.
type Chunk struct {
	Ordinal     int
	HeadingPath []string
	Text        string
	Hash        []byte // content hash of what was embedded
	Tokens      int
	// Embeddings holds the chunk's vector in each embedding space it is
	// written to, by space id.
	Embeddings map[int64][]float32
	Terms      string // space-joined index terms for keyword search (lexical.EachIndexTerm)
	TermCount  int    // how many terms Terms holds: the chunk's length for BM25
}

// ChunkSet names the document version a batch of chunks belongs to and the
// job attempt that writes it.
type ChunkSet struct {
	TenantID   string
	DocumentID string
	Version    int
	// JobID and Attempt name the job attempt that writes the rows. Its
	// writes commit only while that attempt still holds the job, so a
	// worker presumed dead and replaced cannot add or delete rows under
	// the attempt that replaced it.
	JobID   string
	Attempt int
}

// Indexed is what a finished ingest records on its document.
type Indexed struct {
	ContentHash string
	ETag        string
	Size        int64
	Chunks      int
	FrontMatter map[string]any // merged under the document's metadata
	Result      IngestResult
	// Fingerprint names the settings that shaped the chunks and vectors:
	// an unchanged object is re-indexed when they change.
	Fingerprint string
}

// ObjectInfo describes a stored source object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	ContentType  string
	LastModified time.Time
	// Metadata holds the object's x-amz-meta-* headers (lower-case names,
	// without the prefix); filled by a HEAD only.
	Metadata map[string]string
}

// ErrJobNotClaimable is returned when a worker tries to start a job that is
// finished or that another live worker is running.
var ErrJobNotClaimable = errors.New("job is not claimable")

// ErrSpacesChanged is returned by a chunk write that lacks the vectors of
// an embedding space created since the writer listed the live spaces: the
// writer embeds for the spaces it missed and writes again.
var ErrSpacesChanged = errors.New("embedding spaces changed")
