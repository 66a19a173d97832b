package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

// Summaries requests and reads document summaries.
type Summaries interface {
	// Request returns an existing summary, or the job that computes it.
	Request(ctx context.Context, tenantID, documentID, length string) (*protostar.Summary, *protostar.Job, error)
	Latest(ctx context.Context, tenantID, documentID, length string) (protostar.Summary, error)
}

type summarizeInput struct {
	ID   string `path:"id" doc:"Document id" example:"0193a4f2-6c1e-7b3a-9f5e-2d8c4a1b7e90"`
	Body struct {
		Length string `json:"length,omitempty" enum:"short,medium,long" default:"medium"`
	}
}

// summaryResult is a summary that exists; summaryJob the job computing
// one. Their schemas document the 200 and 202 answers.
type (
	summaryResult struct {
		*protostar.Summary
		Cached bool `json:"cached" doc:"The summary existed already for this document version, length, model and prompt"`
	}
	summaryJob struct {
		Cached bool          `json:"cached" doc:"Always false: the summary does not exist yet"`
		Job    protostar.Job `json:"job"`
	}
)

type summaryOutput struct {
	Status int
	Body   any // summaryResult or summaryJob
}

type latestSummaryInput struct {
	ID     string `path:"id" doc:"Document id" example:"0193a4f2-6c1e-7b3a-9f5e-2d8c4a1b7e90"`
	Length string `query:"length" enum:"short,medium,long" doc:"Only summaries of this length"`
}

func (s *Server) registerSummaries(api huma.API) {
	reg := api.OpenAPI().Components.Schemas
	huma.Register(api, huma.Operation{
		OperationID: "summarize-document", Method: http.MethodPost, Path: "/v1/documents/{id}/summary", Tags: []string{"summaries"},
		Summary: "Summarise a document",
		Description: "200 with the summary and `cached: true` when one exists for this exact document version, length, model and prompt; " +
			"otherwise 202 with the job that computes it (map-reduce over the document's sections).",
		Errors:       []int{400, 401, 404, 409, 413, 415, 429},
		MaxBodyBytes: s.maxBodyBytes(),
		Responses: map[string]*huma.Response{
			"200": {Description: "The summary exists", Content: jsonContent(reg, summaryResult{})},
			"202": {Description: "A job computes the summary; wait for it (GET or stream /v1/jobs/{id}/events), then GET the summary",
				Content: jsonContent(reg, summaryJob{})},
		},
	}, func(ctx context.Context, in *summarizeInput) (*summaryOutput, error) {
		sum, job, err := s.deps.Summaries.Request(ctx, TenantFrom(ctx), in.ID, in.Body.Length)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		if job != nil {
			return &summaryOutput{Status: http.StatusAccepted, Body: summaryJob{Job: *job}}, nil
		}
		return &summaryOutput{Status: http.StatusOK, Body: summaryResult{Summary: sum, Cached: true}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-summary", Method: http.MethodGet, Path: "/v1/documents/{id}/summary", Tags: []string{"summaries"},
		Summary: "Get the latest summary of a document", Errors: []int{401, 404},
		Responses: map[string]*huma.Response{"200": {Description: "The summary", Content: jsonContent(reg, summaryResult{})}},
	}, func(ctx context.Context, in *latestSummaryInput) (*summaryOutput, error) {
		sum, err := s.deps.Summaries.Latest(ctx, TenantFrom(ctx), in.ID, in.Length)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &summaryOutput{Status: http.StatusOK, Body: summaryResult{Summary: &sum}}, nil
	})
}
