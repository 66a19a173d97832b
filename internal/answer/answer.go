// Package answer answers a tenant's questions from its documents: it
// retrieves chunks with hybrid search, asks the generator for an answer
// grounded in them, and maps the generator's references to citations of
// retrieved chunks only. Answers are cached with a TTL under a key that
// includes the tenant, the normalised question, the filter and the version
// of the tenant's corpus, so any document change invalidates them.
package answer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/protostar/protostar"
)

// Searcher retrieves chunks.
type Searcher interface {
	Search(ctx context.Context, q protostar.SearchQuery) (protostar.SearchResult, error)
}

// Generator writes an answer from numbered passages, streaming deltas.
type Generator interface {
	Answer(ctx context.Context, question string, passages []protostar.Passage, onDelta func(string) error) (string, []protostar.Cited, error)
	Model() string
	PromptVersion() string
}

// Corpus reports the version of a tenant's searchable corpus.
type Corpus interface {
	CorpusVersion(ctx context.Context, tenantID string) (int64, error)
}

// Cache holds answers for a while; misses and outages are fine.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool)
	Set(ctx context.Context, key string, value []byte)
}

// Limits of a question.
const (
	DefaultTopK    = 5
	MaxTopK        = 20
	MaxQuestionLen = 2048 // bytes
)

// Request is a tenant's question.
type Request struct {
	TenantID string
	Question string
	TopK     int
	Filter   protostar.SearchFilter
}

// Result is a grounded answer.
type Result struct {
	Text      string               `json:"answer"`
	Citations []protostar.Citation `json:"citations"`
	Cached    bool                 `json:"cached"`
}

// Service answers questions.
type Service struct {
	search Searcher
	gen    Generator
	corpus Corpus
	cache  Cache
}

// New returns an answer service.
func New(search Searcher, gen Generator, corpus Corpus, cache Cache) *Service {
	return &Service{search: search, gen: gen, corpus: corpus, cache: cache}
}

// Answer answers req. onDelta, if not nil, receives the answer text as it
// is generated (a cached answer arrives as one delta). Citations refer only
// to chunks retrieved for this tenant.
func (s *Service) Answer(ctx context.Context, req Request, onDelta func(string) error) (Result, error) {
	req.TopK = cmp.Or(req.TopK, DefaultTopK)
	question := normalize(req.Question)
	switch {
	case question == "":
		return Result{}, protostar.Errorf(protostar.EINVALID, "question must not be empty")
	case len(req.Question) > MaxQuestionLen:
		return Result{}, protostar.Errorf(protostar.EINVALID, "question is longer than %d bytes", MaxQuestionLen)
	case req.TopK < 1 || req.TopK > MaxTopK:
		return Result{}, protostar.Errorf(protostar.EINVALID, "top_k must be between 1 and %d, got %d", MaxTopK, req.TopK)
	}
	if onDelta == nil {
		onDelta = func(string) error { return nil }
	}
	key, err := s.cacheKey(ctx, req, question)
	if err != nil {
		return Result{}, err
	}
	if raw, ok := s.cache.Get(ctx, key); ok {
		var a Result
		if json.Unmarshal(raw, &a) == nil {
			a.Cached = true
			return a, onDelta(a.Text)
		}
	}
	res, err := s.search.Search(ctx, protostar.SearchQuery{TenantID: req.TenantID, Query: req.Question, TopK: req.TopK,
		Mode: protostar.SearchHybrid, Filter: req.Filter})
	if err != nil {
		return Result{}, fmt.Errorf("retrieve passages: %w", err)
	}
	hits := res.Hits
	passages := make([]protostar.Passage, len(hits))
	for i, h := range hits {
		passages[i] = protostar.Passage{Index: i + 1, HeadingPath: h.HeadingPath, Text: h.Text}
	}
	text, cited, err := s.gen.Answer(ctx, req.Question, passages, onDelta)
	if err != nil {
		return Result{}, fmt.Errorf("generate answer: %w", err)
	}
	a := Result{Text: text, Citations: citations(hits, cited)}
	if raw, err := json.Marshal(a); err == nil {
		s.cache.Set(ctx, key, raw)
	}
	return a, nil
}

// citations keeps the generator's references that point at retrieved
// passages, once per chunk.
func citations(hits []protostar.SearchHit, cited []protostar.Cited) []protostar.Citation {
	out := []protostar.Citation{}
	seen := map[int64]bool{}
	for _, c := range cited {
		if c.Passage < 1 || c.Passage > len(hits) {
			continue
		}
		h := hits[c.Passage-1]
		if seen[h.ChunkID] {
			continue
		}
		seen[h.ChunkID] = true
		out = append(out, protostar.Citation{Index: c.Passage, ChunkID: h.ChunkID, DocumentID: h.DocumentID, Key: h.Key,
			HeadingPath: h.HeadingPath, Quote: c.Quote})
	}
	return out
}

func (s *Service) cacheKey(ctx context.Context, req Request, question string) (string, error) {
	corpus, err := s.corpus.CorpusVersion(ctx, req.TenantID)
	if err != nil {
		return "", fmt.Errorf("read corpus version: %w", err)
	}
	filter, err := json.Marshal(req.Filter) // maps marshal with sorted keys
	if err != nil {
		return "", fmt.Errorf("encode filter: %w", err)
	}
	h := sha256.New()
	for _, part := range []string{req.TenantID, question, string(filter), fmt.Sprint(req.TopK), fmt.Sprint(corpus), s.gen.Model(), s.gen.PromptVersion()} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "answer:" + req.TenantID + ":" + hex.EncodeToString(h.Sum(nil)), nil
}

// normalize folds a question to the form cache keys use: NFC, lower case,
// single spaces, no surrounding space or trailing question marks.
func normalize(q string) string {
	q = strings.ToLower(norm.NFC.String(q))
	q = strings.Join(strings.FieldsFunc(q, unicode.IsSpace), " ")
	return strings.TrimRight(q, "?？!. ")
}
