package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

// Accounts manages run-time tenants and stored API keys.
type Accounts interface {
	CreateTenant(ctx context.Context, id, name string) (protostar.Tenant, error)
	Tenant(ctx context.Context, id string) (protostar.Tenant, error)
	Tenants(ctx context.Context) ([]protostar.Tenant, error)
	// DeleteTenant returns the platform job that removes the tenant's data.
	DeleteTenant(ctx context.Context, id string, maxAttempts int) (protostar.Tenant, protostar.Job, error)
	CreateKey(ctx context.Context, tenantID, name, prefix string, hash []byte, expires *time.Time) (protostar.APIKey, error)
	Keys(ctx context.Context, tenantID string) ([]protostar.APIKey, error)
	RevokeKey(ctx context.Context, tenantID, id string) (protostar.APIKey, error)
}

type createTenantInput struct {
	Body struct {
		ID   string `json:"id" maxLength:"64" doc:"Letters, digits, '_', '.', '-'" example:"org_4815"`
		Name string `json:"name,omitempty" maxLength:"200" example:"Initech"`
	}
}

type tenantOutput struct{ Body protostar.Tenant }

type tenantDeletion struct {
	Body struct {
		Tenant protostar.Tenant `json:"tenant"`
		Job    protostar.Job    `json:"job"`
	}
}

type tenantIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"Tenant id" example:"org_4815"`
}

type listTenantsOutput struct {
	Body struct {
		Tenants []protostar.Tenant `json:"tenants"`
	}
}

type createKeyInput struct {
	Body struct {
		Name      string     `json:"name,omitempty" maxLength:"200" example:"nestjs production"`
		ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the key stops working; none by default"`
	}
}

type keyWithSecret struct {
	Body struct {
		Key    protostar.APIKey `json:"key"`
		Secret string           `json:"secret" doc:"The key itself (pk_live_…), shown only now"`
	}
}

type keyIDInput struct {
	ID string `path:"id" doc:"Key id" example:"0193a4f3-11aa-7bcd-9ef0-123456789abc"`
}

type keyOutput struct{ Body protostar.APIKey }

type listKeysOutput struct {
	Body struct {
		Keys []protostar.APIKey `json:"keys"`
	}
}

func (s *Server) registerAccounts(api huma.API) {
	a := s.deps.Accounts
	if a == nil {
		return
	}
	platform := "Platform keys only."
	huma.Register(api, huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/tenants", Tags: []string{"tenants"},
		Summary: "Create a tenant", Description: platform, DefaultStatus: http.StatusCreated, Errors: []int{400, 401, 403, 409},
	}, func(ctx context.Context, in *createTenantInput) (*tenantOutput, error) {
		if err := protostar.ValidTenant(in.Body.ID); err != nil {
			return nil, s.problem(ctx, err)
		}
		if s.envTenants[in.Body.ID] {
			return nil, s.problem(ctx, protostar.Errorf(protostar.ECONFLICT, "tenant %q exists already (in PROTOSTAR_API_KEYS)", in.Body.ID))
		}
		t, err := a.CreateTenant(ctx, in.Body.ID, in.Body.Name)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &tenantOutput{Body: t}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-tenants", Method: http.MethodGet, Path: "/v1/tenants", Tags: []string{"tenants"},
		Summary: "List the tenants created at run time", Description: platform, Errors: []int{401, 403},
	}, func(ctx context.Context, _ *struct{}) (*listTenantsOutput, error) {
		ts, err := a.Tenants(ctx)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &listTenantsOutput{}
		out.Body.Tenants = nonNilSlice(ts)
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{id}", Tags: []string{"tenants"},
		Summary: "Get a tenant", Description: platform, Errors: []int{401, 403, 404},
	}, func(ctx context.Context, in *tenantIDInput) (*tenantOutput, error) {
		t, err := a.Tenant(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &tenantOutput{Body: t}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-tenant", Method: http.MethodDelete, Path: "/v1/tenants/{id}", Tags: []string{"tenants"},
		Summary: "Delete a tenant",
		Description: platform + " Its keys stop working at once and it can do nothing more. A job (GET /v1/jobs/{id} with the platform key, " +
			"no Protostar-Tenant) removes its documents, chunks, the objects protostar stored, summaries, cached answers, webhooks and keys, " +
			"and reports its progress; deleting the tenant again returns that job.",
		DefaultStatus: http.StatusAccepted, Errors: []int{401, 403, 404},
	}, func(ctx context.Context, in *tenantIDInput) (*tenantDeletion, error) {
		t, j, err := a.DeleteTenant(ctx, in.ID, s.cfg.JobMaxAttempts)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		if j.Status == protostar.JobQueued {
			s.deps.Dispatcher.Dispatch(ctx, j)
		}
		out := &tenantDeletion{}
		out.Body.Tenant, out.Body.Job = t, j
		return out, nil
	})
	s.registerKeys(api, a)
}

func (s *Server) registerKeys(api huma.API, a Accounts) {
	scope := "A tenant key manages its tenant's keys; a platform key those of the tenant it names in Protostar-Tenant, or without the header the platform keys."
	huma.Register(api, huma.Operation{
		OperationID: "create-key", Method: http.MethodPost, Path: "/v1/keys", Tags: []string{"keys"},
		Summary: "Create an API key", Description: scope + " The key is returned only here; only its hash is stored.",
		DefaultStatus: http.StatusCreated, Errors: []int{400, 401, 403, 404},
	}, func(ctx context.Context, in *createKeyInput) (*keyWithSecret, error) {
		if in.Body.ExpiresAt != nil && !in.Body.ExpiresAt.After(time.Now()) {
			return nil, s.problem(ctx, protostar.Errorf(protostar.EINVALID, "expires_at is in the past"))
		}
		secret, prefix, hash := protostar.NewAPIKey()
		k, err := a.CreateKey(ctx, TenantFrom(ctx), in.Body.Name, prefix, hash, in.Body.ExpiresAt)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &keyWithSecret{}
		out.Body.Key, out.Body.Secret = k, secret
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-keys", Method: http.MethodGet, Path: "/v1/keys", Tags: []string{"keys"},
		Summary: "List API keys by prefix and name, newest first", Description: scope, Errors: []int{401, 403, 404},
	}, func(ctx context.Context, _ *struct{}) (*listKeysOutput, error) {
		ks, err := a.Keys(ctx, TenantFrom(ctx))
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &listKeysOutput{}
		out.Body.Keys = nonNilSlice(ks)
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "revoke-key", Method: http.MethodDelete, Path: "/v1/keys/{id}", Tags: []string{"keys"},
		Summary: "Revoke an API key", Description: scope + " It fails on every replica within 2 s.",
		Errors: []int{401, 403, 404},
	}, func(ctx context.Context, in *keyIDInput) (*keyOutput, error) {
		k, err := a.RevokeKey(ctx, TenantFrom(ctx), in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &keyOutput{Body: k}, nil
	})
}
