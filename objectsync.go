package protostar

import (
	"strings"
)

// Where a document came from (Document.Source).
const (
	SourceAPI       = "api"       // POST /v1/documents
	SourceEvent     = "event"     // a bucket notification (s3:ObjectCreated:*)
	SourceReconcile = "reconcile" // a bucket reconciliation found the object
)

// JobSync reconciles a tenant's documents with its prefix of the bucket.
const JobSync = "sync"

// ObjectEvent is one bucket notification, as MinIO's webhook target and
// AWS S3 (through SQS, SNS or Lambda) send it, normalised: Key is the
// decoded object key.
type ObjectEvent struct {
	ID        int64  // its row, once stored
	Name      string // s3:ObjectCreated:Put, s3:ObjectRemoved:Delete, …
	Bucket    string
	Key       string
	Sequencer string // orders the events of one key; may be empty
	ETag      string
	Size      int64
	Attempts  int // processing attempts so far, once stored
}

// Removed reports whether the event says the object is gone.
func (e ObjectEvent) Removed() bool { return strings.HasPrefix(e.Name, "s3:ObjectRemoved:") }

// Created reports whether the event says the object was written.
func (e ObjectEvent) Created() bool { return strings.HasPrefix(e.Name, "s3:ObjectCreated:") }

// SequencerAfter reports whether sequencer a orders after b, as AWS
// specifies the comparison: the shorter one right-padded with zeros, then
// compared as strings (hex digits, in either case). An empty b is before
// everything; an empty a is after nothing.
func SequencerAfter(a, b string) bool {
	if a == "" {
		return false
	}
	a, b = strings.ToUpper(a), strings.ToUpper(b)
	if n := max(len(a), len(b)); len(a) < n {
		a += strings.Repeat("0", n-len(a))
	} else if len(b) < n {
		b += strings.Repeat("0", n-len(b))
	}
	return a > b
}

// ObjectState is what a HEAD of a document's object found.
type ObjectState struct {
	Exists   bool
	ETag     string
	Size     int64
	Metadata map[string]any // its x-amz-meta-* headers; nil when it has none
	// WrittenBy is protostar's mark on an object it wrote itself (an upload
	// promoted to its key): "<document id>:<version>"; empty otherwise.
	WrittenBy string
}

// ObjectSync asks to bring one document in step with its object.
type ObjectSync struct {
	TenantID  string
	Key       string // the document key (without the tenant prefix)
	Sequencer string // the event's; empty for a reconciliation
	Source    string // SourceEvent or SourceReconcile
	// The limits of a submission (see Submission).
	MaxAttempts, MaxActive, MaxChunks int
}

// Outcomes of an ObjectSync.
const (
	SyncIngested   = "ingested"   // a new document was created for the object
	SyncReingested = "reingested" // the object changed: a new version was submitted
	SyncDeleted    = "deleted"    // the object is gone: its document was deleted
	SyncUnchanged  = "unchanged"  // the document already holds the object as it is
	SyncStale      = "stale"      // an event at or before the last one applied to the key
	SyncOwnWrite   = "own_write"  // protostar wrote the object itself (an upload)
	SyncAbsent     = "absent"     // neither object nor document exists
	SyncInFlight   = "in_flight"  // an upload of the key is being promoted; left alone
	SyncIgnored    = "ignored"    // not a tenant's document (unknown prefix, other bucket, not Markdown, bad key)
)

// SyncResult is the result of a finished sync job.
type SyncResult struct {
	Listed     int `json:"listed"`     // objects of the tenant's prefix that can be documents
	Ingested   int `json:"ingested"`   // objects that had no document
	Reingested int `json:"reingested"` // changed objects
	Deleted    int `json:"deleted"`    // documents whose object was gone
	Unchanged  int `json:"unchanged"`  // documents in step with their objects
	Skipped    int `json:"skipped"`    // documents being indexed or uploaded, left for the next run
}

// SyncedDocument is what a reconciliation compares with the bucket.
type SyncedDocument struct {
	Key    string
	Status string
	ETag   string // the object's ETag as protostar last saw it
	Size   int64
}
