package protostar

import "time"

// Summary is a document summary for one exact content hash, length, model
// and prompt version.
type Summary struct {
	ID            string    `json:"-"`
	TenantID      string    `json:"-"`
	DocumentID    string    `json:"document_id"`
	Version       int       `json:"version"`
	ContentHash   string    `json:"content_hash"`
	Length        string    `json:"length" enum:"short,medium,long" example:"short"`
	Model         string    `json:"model" example:"extractive"`
	PromptVersion string    `json:"prompt_version"`
	Text          string    `json:"summary" example:"PostgreSQL 튜닝 가이드: shared_buffers, 백업 일정과 복구 절차."`
	Sections      int       `json:"sections"`
	CreatedAt     time.Time `json:"created_at"`
}

// Section is one unit of the map step: consecutive chunks under the same
// top-level headings. Hash changes exactly when its chunks' content does.
type Section struct {
	Hash        []byte
	HeadingPath []string
	Text        string
}

// SummaryResult is the result of a finished summary job.
type SummaryResult struct {
	SectionsTotal      int `json:"sections_total"`
	SectionsSummarized int `json:"sections_summarized"`
	SectionsReused     int `json:"sections_reused"`
	GeneratorCalls     int `json:"generator_calls"`
}
