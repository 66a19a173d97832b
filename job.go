package protostar

import (
	"encoding/json"
	"time"
)

// Job types. Each maps to one queue.
const (
	JobIngest  = "ingest"
	JobSummary = "summary"
	// JobTenantDelete removes a deleted tenant's data. It belongs to the
	// platform (its TenantID is empty) and runs on the ingest queue.
	JobTenantDelete = "tenant_delete"
	// JobEmbedBackfill embeds a tenant's chunks into an embedding space
	// (params: {"space": id}); it runs on the ingest queue.
	JobEmbedBackfill = "embed_backfill"
)

// Job statuses.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCanceled  = "canceled"
)

// Job is the durable record of a unit of background work. Postgres holds the
// truth; the queue only carries the job's id. A job whose DispatchedAt is nil
// has not reached the queue yet (Redis was down) and is sent when it returns.
type Job struct {
	ID           string          `json:"id" example:"0193a4f2-6c1f-7d52-8a11-5be0c3f9d214"`
	TenantID     string          `json:"-"`
	Type         string          `json:"type" enum:"ingest,summary,sync,tenant_delete,embed_backfill" example:"ingest"`
	Status       string          `json:"status" enum:"queued,running,succeeded,failed,canceled" example:"running"`
	DocumentID   string          `json:"document_id,omitempty"`
	Version      int             `json:"-"`
	Params       json.RawMessage `json:"-"`
	Progress     Progress        `json:"progress"`
	Attempts     int             `json:"attempts"`
	MaxAttempts  int             `json:"max_attempts"`
	Error        string          `json:"error,omitempty"`
	Result       json.RawMessage `json:"result,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	DispatchedAt *time.Time      `json:"dispatched_at,omitempty"`
	StartedAt    *time.Time      `json:"started_at,omitempty"`
	FinishedAt   *time.Time      `json:"finished_at,omitempty"`
	HeartbeatAt  *time.Time      `json:"-"`
	// Dispatches counts how often the job was handed to the queue; the queue
	// task id includes it, so a lost task can be sent again.
	Dispatches int `json:"-"`
	// TraceParent is the W3C traceparent of the request that accepted the
	// job: its attempts continue that trace.
	TraceParent string `json:"-"`
}

// JobBacklog counts the unfinished jobs of one type in one status
// (queued or running) and gives the age of the oldest of them.
type JobBacklog struct {
	Type, Status string
	Count        int
	OldestAge    time.Duration // since it was submitted
}

// Progress counts units of work: chunks for ingest, sections for summaries.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Terminal reports whether the job can no longer change status.
func (j *Job) Terminal() bool {
	switch j.Status {
	case JobSucceeded, JobFailed, JobCanceled:
		return true
	}
	return false
}

// TenantPurgeResult is the result of a finished tenant_delete job.
type TenantPurgeResult struct {
	Documents    int `json:"documents"`     // the tenant's documents when the purge began
	CacheEntries int `json:"cache_entries"` // cached answers and summaries removed
}

// IngestResult is the result of a finished ingest job.
type IngestResult struct {
	ChunksTotal    int   `json:"chunks_total"`
	ChunksEmbedded int   `json:"chunks_embedded"`
	ChunksReused   int   `json:"chunks_reused"`
	BytesRead      int64 `json:"bytes_read"`
}
