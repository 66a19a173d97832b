package protostar

import "time"

// ConsoleSession is a signed-in operator console session. The browser
// holds a random token; only its SHA-256 is stored, with the SHA-256 of the
// API key it signed in with (checked again on every request), never the
// key itself.
type ConsoleSession struct {
	TokenHash []byte
	KeyHash   []byte
	KeyID     string // a stored key's id; "" for a PROTOSTAR_API_KEYS key
	KeyTenant string // the key's own tenant; "" for a platform key
	Platform  bool
	TenantID  string // the tenant the session acts for; a platform key may switch it
	CSRFToken string // every form and htmx request of the session carries it
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ChunkView is a stored chunk as an operator reads it.
type ChunkView struct {
	ID          int64
	Ordinal     int
	HeadingPath []string
	Text        string
	Tokens      int
}

// TenantStats is a tenant's overview: documents and jobs by status, the
// backlog of unfinished jobs and ingest outcomes over the last hour.
type TenantStats struct {
	Documents map[string]int // by status
	Jobs      map[string]int // by status
	Queued    int
	Running   int
	// OldestQueued is the age of the oldest queued job (0: none).
	OldestQueued time.Duration
	// Ingests holds finished ingest jobs in the last hour, oldest bucket
	// first, in IngestBuckets buckets of IngestBucketWidth each.
	Ingests []IngestBucket
}

// Ingest rate buckets of TenantStats.
const (
	IngestBuckets     = 12
	IngestBucketWidth = 5 * time.Minute
)

// IngestBucket counts the ingest jobs that ended in one interval.
type IngestBucket struct {
	Start     time.Time
	Succeeded int
	Failed    int
}
