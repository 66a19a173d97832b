package protostar

import "math"

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
// depends on the mode (cosine similarity, BM25 score or fused score).
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
	KeywordScore float64  `json:"keyword_score,omitempty"` // the keyword side's score, the passage's share included
	PassageScore float64  `json:"passage_score,omitempty"` // the share of keyword_score from the chunk's passage (see BM25.Passage)
	FusedScore   float64  `json:"fused_score"`             // the score the hit was ordered by
	MatchedTerms []string `json:"matched_terms"`           // the query's index terms (Korean syllable bigrams, words) present in the chunk; [] not null
}

// KeywordQuery is a keyword search: the query's distinct index terms (see
// lexical.EachIndexTerm), the weight of each in the query (how often it
// occurs, see search.QueryTerms), and the BM25 parameters to rank with.
type KeywordQuery struct {
	Terms   []string
	Weights []float64 // Weights[i] multiplies Terms[i]'s score
	BM25    BM25
}

// BM25 ranks chunks for a query q:
//
//	score(c) = Σ_{t ∈ q} w(t) · idf(t) · tf(t,c)·(K1+1) / (tf(t,c) + K1·(1 − B + B·len(c)/avglen))
//	idf(t)   = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//
// over a tenant's N searchable chunks, df(t) of which hold t; len is a
// chunk's length in index terms; w(t) is the term's weight in the query
// (KeywordQuery.Weights). This idf (Lucene's) is never negative,
// so a term in most chunks still counts a little.
//
// LengthFloor, when above 0, bounds the reward for shortness: a chunk
// shorter than LengthFloor·avglen is scored as if it were that long. BM25
// was made for whole documents, where a short one that holds the query's
// terms is a focused one; a chunk is short because chunking cut it there
// (the tail of a section, the remnant after a split), and plain BM25 ranks
// such remnants above the full chunks that answer. At 1 (the service's
// default), length normalisation only penalises chunks longer than
// average; 0 is plain BM25, which the eval's reference keeps.
//
// Passage, when above 0, adds document evidence: a hit's score becomes
// its chunk's score plus Passage times the same BM25 score of its passage,
// the chunk with up to PassageRadius chunks on either side of it in its
// document, whose term frequencies and lengths are summed and normalised
// by the average passage length. A question's terms are often spread over
// the chunks chunking split a section into; the passage score ranks the
// chunk whose neighbourhood holds the rest above one that holds the same
// terms among unrelated text. For a document of a few chunks the passage
// is the whole document. It reorders the best chunks the chunk score
// finds (at least 10), it does not find others.
type BM25 struct {
	K1          float64 // term-frequency saturation; default 1.2
	B           float64 // length normalisation, 0..1; default 0.75
	LengthFloor float64 // shortest length counted, in average lengths; default 1 in the service, 0 is plain BM25
	Passage     float64 // weight of the passage score; default 1 in the service, 0 scores chunks alone
}

// PassageRadius is how many chunks on either side of a chunk its passage
// takes (see BM25.Passage): at most 9 chunks, about 4,600 tokens at the
// default chunk size, a section's worth, and a bounded read per hit.
const PassageRadius = 4

// The usual BM25 parameters, and the service's length floor.
const (
	DefaultBM25K1          = 1.2
	DefaultBM25B           = 0.75
	DefaultBM25LengthFloor = 1.0
	DefaultBM25Passage     = 1.0
)

// DefaultBM25 is the service's ranking with its default settings.
func DefaultBM25() BM25 {
	return BM25{K1: DefaultBM25K1, B: DefaultBM25B, LengthFloor: DefaultBM25LengthFloor, Passage: DefaultBM25Passage}
}

// IDF is the inverse document frequency of a term held by df of n chunks.
func (BM25) IDF(n, df int64) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// TF is the saturated, length-normalised weight of a term occurring tf
// times in a chunk of length n (at least LengthFloor·avg) when chunks are
// avg terms long on average.
// It is below K1+1 (see MaxTF) for every tf.
func (p BM25) TF(tf, n int, avg float64) float64 {
	if avg <= 0 {
		avg = float64(max(n, 1))
	}
	t, l := float64(tf), max(float64(n), p.LengthFloor*avg)
	return t * (p.K1 + 1) / (t + p.K1*(1-p.B+p.B*l/avg))
}

// MaxTF bounds TF: a term can add at most idf·MaxTF to a chunk's score.
func (p BM25) MaxTF() float64 { return p.K1 + 1 }

// SearchResult is a search's answer: its hits, best first, and whether
// the rerank stage reordered them.
type SearchResult struct {
	Hits []SearchHit
	// Space is the embedding space the vector side read (0 in keyword
	// mode): one space per search, never two.
	Space int64
	// Rerank is "" without a rerank stage, "reranked" when the reranker
	// ordered the hits, and "unavailable" when it failed or timed out and
	// the hits keep the fused order.
	Rerank string
}

// Rerank outcomes.
const (
	RerankDone        = "reranked"
	RerankUnavailable = "unavailable"
)

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
