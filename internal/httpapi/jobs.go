package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

type jobIDInput struct {
	ID string `path:"id" doc:"Job id" example:"0193a4f2-6c1f-7d52-8a11-5be0c3f9d214"`
}

type jobOutput struct{ Body protostar.Job }

type listJobsInput struct {
	Status string `query:"status" enum:"queued,running,succeeded,failed,canceled"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor" maxLength:"200"`
}

type listJobsOutput struct {
	Body struct {
		Jobs       []protostar.Job `json:"jobs"`
		NextCursor string          `json:"next_cursor,omitempty"`
	}
}

func (s *Server) registerJobs(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "get-job", Method: http.MethodGet, Path: "/v1/jobs/{id}", Tags: []string{"jobs"},
		Summary:     "Get a job",
		Description: "A job with no dispatched_at has not reached the queue yet (Redis is down); it is sent when the queue returns and its error says so meanwhile.",
		Errors:      []int{401, 404},
	}, func(ctx context.Context, in *jobIDInput) (*jobOutput, error) {
		j, err := s.deps.Store.Job(ctx, TenantFrom(ctx), in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &jobOutput{Body: j}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-jobs", Method: http.MethodGet, Path: "/v1/jobs", Tags: []string{"jobs"},
		Summary: "List jobs, newest first", Errors: []int{400, 401},
	}, func(ctx context.Context, in *listJobsInput) (*listJobsOutput, error) {
		jobs, next, err := s.deps.Store.Jobs(ctx, TenantFrom(ctx), in.Status, in.Limit, in.Cursor)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &listJobsOutput{}
		out.Body.Jobs, out.Body.NextCursor = nonNilSlice(jobs), next
		return out, nil
	})
}
