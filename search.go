package protostar

// Search modes.
const (
	SearchHybrid  = "hybrid"
	SearchVector  = "vector"
	SearchKeyword = "keyword"
)

// SearchFilter narrows a search. Every field is passed to SQL as a
// parameter, never spliced into the statement.
type SearchFilter struct {
	DocumentIDs []string          `json:"document_ids,omitempty"`
	KeyPrefix   string            `json:"key_prefix,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// SearchQuery is a tenant's search request.
type SearchQuery struct {
	TenantID string
	Query    string
	TopK     int
	Mode     string
	Filter   SearchFilter
	Explain  bool // fill SearchHit.Explain
}

// SearchHit is one retrieved chunk. Score is higher-is-better; its scale
// depends on the mode (cosine similarity, keyword rank or fused RRF score).
type SearchHit struct {
	ChunkID     int64    `json:"chunk_id"`
	DocumentID  string   `json:"document_id"`
	Key         string   `json:"key" example:"guides/postgres-tuning.md"`
	HeadingPath []string `json:"heading_path" example:"[\"PostgreSQL 튜닝\",\"백업\"]"`
	Text        string   `json:"text" example:"백업은 매일 02:00에 pg_basebackup으로 실행됩니다."`
	Score       float64  `json:"score"`
	// Explain says why the hit ranked where it did; only when asked for.
	Explain *SearchExplain `json:"explain,omitempty"`
}

// SearchExplain says why a hit ranked where it did.
type SearchExplain struct {
	VectorRank   int      `json:"vector_rank,omitempty"`   // 1-based rank in the vector list; absent when not in it
	KeywordRank  int      `json:"keyword_rank,omitempty"`  // 1-based rank in the keyword list; absent when not in it
	VectorScore  float64  `json:"vector_score,omitempty"`  // cosine similarity
	KeywordScore float64  `json:"keyword_score,omitempty"` // the keyword side's score
	FusedScore   float64  `json:"fused_score"`             // the score the hit was ordered by
	MatchedTerms []string `json:"matched_terms"`           // the query's index terms (Korean syllable bigrams, words) present in the chunk; [] not null
}

// Passage is a retrieved chunk handed to a generator. Index is the 1-based
// label the generator uses to cite it.
type Passage struct {
	Index       int
	HeadingPath []string
	Text        string
}

// Cited is a generator's reference to the passage it drew from.
type Cited struct {
	Passage int    // Passage.Index
	Quote   string // the supporting sentence(s), verbatim from the passage
}

// Citation is what an API client sees for one cited chunk. Index is the
// number of the [n] marker that cites it in the answer text.
type Citation struct {
	Index       int      `json:"index"`
	ChunkID     int64    `json:"chunk_id"`
	DocumentID  string   `json:"document_id"`
	Key         string   `json:"key"`
	HeadingPath []string `json:"heading_path"`
	Quote       string   `json:"quote" example:"백업은 매일 02:00에 pg_basebackup으로 실행됩니다."`
}

// ValidSummaryLength reports whether s is an accepted summary length:
// short, medium or long.
func ValidSummaryLength(s string) bool {
	return s == "short" || s == "medium" || s == "long"
}

// SummaryInput is one summarisation call: a map step over one section, or
// the reduce step over section summaries.
type SummaryInput struct {
	Text        string
	HeadingPath []string
	Length      string // short | medium | long
	Reduce      bool   // true for the final step over section summaries
}
