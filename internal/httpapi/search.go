package httpapi

import (
	"context"
	"net/http"
	"unicode"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

type searchFilter struct {
	DocumentIDs []string          `json:"document_ids,omitempty" maxItems:"100" doc:"Only chunks of these documents"`
	KeyPrefix   string            `json:"key_prefix,omitempty" maxLength:"1024" doc:"Only documents whose key starts with this" example:"guides/"`
	Metadata    map[string]string `json:"metadata,omitempty" doc:"Only documents whose metadata has these key/value pairs" example:"{\"team\":\"infra\"}"`
}

type searchInput struct {
	Body struct {
		Query  string       `json:"query" minLength:"1" maxLength:"4096" example:"데이터베이스 튜닝"`
		TopK   int          `json:"top_k,omitempty" minimum:"1" maximum:"100" default:"10"`
		Mode   string       `json:"mode,omitempty" enum:"hybrid,vector,keyword" default:"hybrid"`
		Filter searchFilter `json:"filter,omitempty"`
		// Explain adds to each result why it ranked where it did.
		Explain bool `json:"explain,omitempty" doc:"Add to each result its vector and keyword ranks and scores, its fused score and the query terms it matched"`
	}
}

type searchOutput struct {
	Body struct {
		Results []protostar.SearchHit `json:"results"`
		Space   int64                 `json:"embedding_space,omitempty" doc:"The embedding space the vector side searched (absent in keyword mode); see /v1/embedding-spaces"`
		Rerank  string                `json:"rerank,omitempty" enum:"reranked,unavailable" doc:"With a rerank stage configured: reranked, or unavailable when the reranker failed and the results keep the fused order"`
	}
}

func (f searchFilter) domain() (protostar.SearchFilter, error) {
	for _, r := range f.KeyPrefix {
		if unicode.IsControl(r) {
			return protostar.SearchFilter{}, protostar.Errorf(protostar.EINVALID, "filter.key_prefix must not contain control characters")
		}
	}
	for k, v := range f.Metadata {
		if err := protostar.ValidMetadataKey("filter.metadata key", k); err != nil {
			return protostar.SearchFilter{}, err
		}
		if err := validLabel("filter.metadata value", v, 1024); err != nil {
			return protostar.SearchFilter{}, err
		}
	}
	return protostar.SearchFilter{DocumentIDs: f.DocumentIDs, KeyPrefix: f.KeyPrefix, Metadata: f.Metadata}, nil
}

func (s *Server) registerSearch(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "search", Method: http.MethodPost, Path: "/v1/search", Tags: []string{"search"},
		Summary:      "Search the tenant's documents",
		Description:  "keyword ranks by BM25 over Korean syllable bigrams and stemmed English words; vector by cosine similarity; hybrid (default) fuses both with weighted reciprocal-rank fusion. Results hold each chunk once. With explain, each result says its rank and score on each side, the score it was ordered by and the query terms it holds.",
		Errors:       []int{400, 401, 413, 415, 429},
		MaxBodyBytes: s.maxBodyBytes(),
	}, func(ctx context.Context, in *searchInput) (*searchOutput, error) {
		f, err := in.Body.Filter.domain()
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		if err := validQueryText(in.Body.Query); err != nil {
			return nil, s.problem(ctx, err)
		}
		res, err := s.deps.Search.Search(ctx, protostar.SearchQuery{
			TenantID: TenantFrom(ctx), Query: in.Body.Query, TopK: in.Body.TopK, Mode: in.Body.Mode, Filter: f,
			Explain: in.Body.Explain,
		})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &searchOutput{}
		out.Body.Results, out.Body.Rerank, out.Body.Space = nonNilSlice(res.Hits), res.Rerank, res.Space
		return out, nil
	})
}

// validQueryText rejects control characters (other than whitespace) in a
// query; JSON decoding already replaced invalid UTF-8.
func validQueryText(q string) error {
	for _, r := range q {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f || r == '\uFFFD' {
			return protostar.Errorf(protostar.EINVALID, "query contains control characters or invalid UTF-8")
		}
	}
	return nil
}
