package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

// EmbeddingSpaces runs the embedding-model change (docs/embedding-models.md).
type EmbeddingSpaces interface {
	Spaces(ctx context.Context) ([]protostar.EmbeddingSpace, error)
	Space(ctx context.Context, id int64) (protostar.EmbeddingSpace, error)
	// CreateSpace returns ECONFLICT for a live space of the same settings.
	CreateSpace(ctx context.Context, spec protostar.SpaceSpec) (protostar.EmbeddingSpace, error)
	SpaceCoverage(ctx context.Context, spaceID int64, tenantID string) ([]protostar.SpaceCoverage, error)
	CreateBackfillJobs(ctx context.Context, spaceID int64, tenantID string, maxAttempts int) ([]protostar.Job, error)
	// ActivateSpace returns ECONFLICT below full coverage unless force.
	ActivateSpace(ctx context.Context, id int64, tenantID string, force bool) (protostar.EmbeddingSpace, error)
	RollbackSpace(ctx context.Context, tenantID string) (protostar.EmbeddingSpace, error)
	// RetireSpace returns ECONFLICT for a space some tenant searches.
	RetireSpace(ctx context.Context, id int64, limit int, progress func(int64)) error
}

type spaceIDInput struct {
	ID int64 `path:"id" example:"2" doc:"Embedding space id"`
}

type spaceOutput struct{ Body protostar.EmbeddingSpace }

type createSpaceInput struct {
	Body struct {
		Provider       string `json:"provider" enum:"hash,openai" doc:"hash (offline) or openai (any OpenAI-compatible endpoint of PROTOSTAR_OPENAI_BASE_URL)"`
		Model          string `json:"model" maxLength:"200" example:"text-embedding-3-large"`
		Dimensions     int    `json:"dimensions" example:"1024" doc:"8 to 4000; above 2000 the index holds halfvec"`
		SendDimensions *bool  `json:"send_dimensions,omitempty" doc:"openai: send dimensions (default true); false for fixed-size models"`
		Index          string `json:"index,omitempty" enum:"vector,halfvec" doc:"HNSW index element type (default PROTOSTAR_VECTOR_INDEX; halfvec above 2000 dimensions): halfvec indexes the vectors at half precision, about half the index size; hits are ranked by full-precision distance either way"`
	}
}

type spaceStatusOutput struct {
	Body struct {
		Space   protostar.EmbeddingSpace  `json:"space"`
		Tenants []protostar.SpaceCoverage `json:"tenants" doc:"Coverage per tenant: chunks, those with a vector in the space, tokens left, latest backfill job"`
	}
}

type spaceTenantInput struct {
	ID   int64 `path:"id" example:"2" doc:"Embedding space id"`
	Body struct {
		Tenant string `json:"tenant,omitempty" maxLength:"64" doc:"One tenant; all tenants when empty"`
		Force  bool   `json:"force,omitempty" doc:"activate: switch even below 100% coverage"`
	}
}

func (s *Server) registerSpaces(api huma.API) {
	sp := s.deps.Spaces
	if sp == nil {
		return
	}
	tags, platform := []string{"embedding spaces"}, "Platform keys only. See docs/embedding-models.md."
	huma.Register(api, huma.Operation{
		OperationID: "list-embedding-spaces", Method: http.MethodGet, Path: "/v1/embedding-spaces", Tags: tags,
		Summary: "List embedding spaces", Description: platform, Errors: []int{401, 403},
	}, func(ctx context.Context, _ *struct{}) (*struct {
		Body struct {
			Spaces []protostar.EmbeddingSpace `json:"spaces"`
		}
	}, error) {
		ss, err := sp.Spaces(ctx)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &struct {
			Body struct {
				Spaces []protostar.EmbeddingSpace `json:"spaces"`
			}
		}{}
		out.Body.Spaces = nonNilSlice(ss)
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "create-embedding-space", Method: http.MethodPost, Path: "/v1/embedding-spaces", Tags: tags,
		Summary: "Create a building embedding space", DefaultStatus: http.StatusCreated, Errors: []int{400, 401, 403, 409},
		Description: "New ingests write it (beside the active space) from now on; backfill it, then activate it. " + platform,
	}, func(ctx context.Context, in *createSpaceInput) (*spaceOutput, error) {
		spec := protostar.SpaceSpec{Provider: in.Body.Provider, Model: in.Body.Model, Dimensions: in.Body.Dimensions,
			SendDimensions: in.Body.SendDimensions == nil || *in.Body.SendDimensions, Index: in.Body.Index}
		out, err := sp.CreateSpace(ctx, spec.WithIndexDefault(s.cfg.VectorIndex))
		return &spaceOutput{Body: out}, s.problemOrNil(ctx, err)
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-embedding-space", Method: http.MethodGet, Path: "/v1/embedding-spaces/{id}", Tags: tags,
		Summary: "An embedding space and its coverage per tenant", Description: platform, Errors: []int{401, 403, 404},
	}, func(ctx context.Context, in *spaceIDInput) (*spaceStatusOutput, error) {
		space, err := sp.Space(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		cov, err := sp.SpaceCoverage(ctx, in.ID, "")
		out := &spaceStatusOutput{}
		out.Body.Space, out.Body.Tenants = space, nonNilSlice(cov)
		return out, s.problemOrNil(ctx, err)
	})
	s.registerSpaceActions(api, sp, tags, platform)
}

func (s *Server) registerSpaceActions(api huma.API, sp EmbeddingSpaces, tags []string, platform string) {
	huma.Register(api, huma.Operation{
		OperationID: "backfill-embedding-space", Method: http.MethodPost, Path: "/v1/embedding-spaces/{id}/backfill", Tags: tags,
		Summary: "Embed every existing chunk into the space", DefaultStatus: http.StatusAccepted, Errors: []int{400, 401, 403, 404, 409},
		Description: "One job per tenant (follow it at /v1/jobs/{id} with Protostar-Tenant); resumable, rate-limited. " + platform,
	}, func(ctx context.Context, in *spaceTenantInput) (*struct {
		Body struct {
			Jobs []protostar.Job `json:"jobs"`
		}
	}, error) {
		jobs, err := sp.CreateBackfillJobs(ctx, in.ID, in.Body.Tenant, s.cfg.JobMaxAttempts)
		out := &struct {
			Body struct {
				Jobs []protostar.Job `json:"jobs"`
			}
		}{}
		out.Body.Jobs = nonNilSlice(jobs)
		return out, s.problemOrNil(ctx, err)
	})
	huma.Register(api, huma.Operation{
		OperationID: "activate-embedding-space", Method: http.MethodPost, Path: "/v1/embedding-spaces/{id}/activate", Tags: tags,
		Summary: "Search the space from now on", Errors: []int{400, 401, 403, 404, 409},
		Description: "For all tenants or one, in one transaction; refused (409) below 100% coverage unless forced. " + platform,
	}, func(ctx context.Context, in *spaceTenantInput) (*spaceOutput, error) {
		out, err := sp.ActivateSpace(ctx, in.ID, in.Body.Tenant, in.Body.Force)
		return &spaceOutput{Body: out}, s.problemOrNil(ctx, err)
	})
	huma.Register(api, huma.Operation{
		OperationID: "rollback-embedding-space", Method: http.MethodPost, Path: "/v1/embedding-spaces/rollback", Tags: tags,
		Summary: "Search the previous space again", Description: platform, Errors: []int{400, 401, 403, 409},
	}, func(ctx context.Context, in *struct {
		Body struct {
			Tenant string `json:"tenant,omitempty" maxLength:"64" doc:"A tenant activated on a space of its own; all tenants when empty"`
		}
	}) (*spaceOutput, error) {
		out, err := sp.RollbackSpace(ctx, in.Body.Tenant)
		return &spaceOutput{Body: out}, s.problemOrNil(ctx, err)
	})
	huma.Register(api, huma.Operation{
		OperationID: "retire-embedding-space", Method: http.MethodDelete, Path: "/v1/embedding-spaces/{id}", Tags: tags,
		Summary: "Retire a space: drop its index and vectors", DefaultStatus: http.StatusNoContent, Errors: []int{401, 403, 404, 409},
		Description: "Nothing writes it from now on; its vectors are deleted in batches before the answer (a retry finishes an interrupted retirement). " + platform,
	}, func(ctx context.Context, in *spaceIDInput) (*struct{}, error) {
		return nil, s.problemOrNil(ctx, sp.RetireSpace(ctx, in.ID, 5000, nil))
	})
}

// problemOrNil is s.problem for a non-nil err.
func (s *Server) problemOrNil(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	return s.problem(ctx, err)
}
