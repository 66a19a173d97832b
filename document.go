package protostar

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Document statuses.
const (
	DocumentPending  = "pending"  // accepted, waiting for a worker
	DocumentIndexing = "indexing" // a worker is chunking and embedding it
	DocumentReady    = "ready"    // its active version is searchable
	DocumentFailed   = "failed"   // the last ingest failed; see Error
)

// Document is one Markdown object of a tenant. Posting the same key again
// creates a new Version of the same document; search always sees exactly one
// indexed version (IndexedVersion) or none.
type Document struct {
	ID             string `json:"id" example:"0193a4f2-6c1e-7b3a-9f5e-2d8c4a1b7e90"`
	TenantID       string `json:"-"`
	Key            string `json:"key" example:"guides/postgres-tuning.md"`
	Status         string `json:"status" enum:"pending,indexing,ready,failed" example:"ready"`
	Version        int    `json:"version"`
	IndexedVersion int    `json:"indexed_version"`
	ContentHash    string `json:"content_hash" example:"9f2c6b1e4d7a0c3b"`
	ETag           string `json:"-"`
	// IndexFingerprint names what made the active version besides its
	// bytes (embedding model, dimensions, chunk settings); see Indexed.
	IndexFingerprint string          `json:"-"`
	Size             int64           `json:"size"`
	ChunkCount       int             `json:"chunk_count"`
	Metadata         json.RawMessage `json:"metadata"`
	// Source says what created the document: SourceAPI, SourceEvent or
	// SourceReconcile.
	Source    string     `json:"source" enum:"api,event,reconcile" example:"api"`
	Error     string     `json:"error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	IndexedAt *time.Time `json:"indexed_at,omitempty"`
}

// DocumentFilter selects documents in a listing.
type DocumentFilter struct {
	Status    string
	Key       string            // exact key match
	KeyPrefix string            // keys starting with this
	Metadata  map[string]string // metadata holding these string values
	Limit     int
	Cursor    string // opaque; returned by the previous page
}

// Submission is an accepted document submission: the document (new, or a
// new version of an existing key) and its pending ingest job.
type Submission struct {
	TenantID    string
	Key         string
	Metadata    json.RawMessage // nil keeps the current metadata of an existing document
	Force       bool            // re-read the object even if its ETag is unchanged
	Staged      string          // an upload's staging key (StagingKey), which the job reads first
	MaxAttempts int
	MaxActive   int    // the tenant's cap on queued+running jobs
	MaxChunks   int    // the tenant's storage quota in chunks of ready versions; 0: none
	Source      string // SourceAPI when empty
	// ObjectETag is the ETag of the object as the bucket sync saw it when it
	// submitted the document; empty for the API.
	ObjectETag string
}

// MaxKeyBytes caps an object key, as S3 does.
const MaxKeyBytes = 1024

// NormalizeKey returns key in Unicode NFC, validated by ValidateKey: the
// NFC and NFD spellings of one name (macOS writes NFD) are one document.
func NormalizeKey(key string) (string, error) {
	if !utf8.ValidString(key) {
		return key, Errorf(EINVALID, "key is not valid UTF-8")
	}
	key = norm.NFC.String(key)
	return key, ValidateKey(key)
}

// ValidKeyPrefix checks a key prefix used as a filter: valid UTF-8 (NUL
// bytes and invalid UTF-8 would reach Postgres, which rejects them) without
// control characters, at most MaxKeyBytes. "" is valid (no filter).
func ValidKeyPrefix(prefix string) error {
	if len(prefix) > MaxKeyBytes || !utf8.ValidString(prefix) || strings.IndexFunc(prefix, unicode.IsControl) >= 0 {
		return Errorf(EINVALID, "key prefix must be valid UTF-8 without control characters, at most %d bytes", MaxKeyBytes)
	}
	return nil
}

// ValidateKey rejects object keys that could escape the tenant's space or
// confuse the store: empty or overlong keys, a leading '/', '..' segments,
// backslashes, invalid UTF-8, control and format characters (zero-width
// spaces and joiners, bidi overrides), which make two keys look the same.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return Errorf(EINVALID, "key must not be empty")
	case len(key) > MaxKeyBytes:
		return Errorf(EINVALID, "key is longer than %d bytes", MaxKeyBytes)
	case !utf8.ValidString(key):
		return Errorf(EINVALID, "key is not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return Errorf(EINVALID, "key must be relative: it starts with '/'")
	case strings.Contains(key, `\`):
		return Errorf(EINVALID, `key must not contain '\'`)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." || seg == "." {
			return Errorf(EINVALID, "key must not contain '.' or '..' path segments")
		}
		if seg == "" {
			return Errorf(EINVALID, "key must not contain empty path segments ('//' or a trailing '/')")
		}
	}
	for _, r := range key {
		switch {
		case unicode.IsControl(r):
			return Errorf(EINVALID, "key must not contain control characters")
		case unicode.Is(unicode.Bidi_Control, r):
			// Right-to-left overrides make a key display as another one.
			return Errorf(EINVALID, "key must not contain bidirectional control characters (U+%04X)", r)
		case unicode.Is(unicode.Cf, r):
			return Errorf(EINVALID, "key must not contain invisible format characters (U+%04X)", r)
		}
	}
	return nil
}

// StagingKey is where an upload waits until its document and job are
// committed, so that a refused upload never touches the live object: under
// a prefix of protostar's own, outside every tenant's, with a unique name.
func StagingKey(tenantID, id string) string {
	return ".protostar/staging/" + tenantID + "/" + id
}

// ObjectKey is where a tenant's document key lives in the bucket: under a
// prefix of its own, so no tenant can name, read or overwrite another's
// objects by choosing a key. Producers (the NestJS app) write objects there.
func ObjectKey(tenantID, key string) string {
	return tenantID + "/" + key
}

// ObjectRemoval is what a deleted document leaves in the bucket for the
// purge to remove: its live object, if protostar stored it by upload, and
// the staging copies its jobs named.
type ObjectRemoval struct {
	DocumentID string
	TenantID   string
	Key        string   // the document key; its object is ObjectKey(TenantID, Key)
	Stored     bool     // protostar wrote the live object by upload
	Staged     []string // staging keys (StagingKey) of the document's uploads
}
