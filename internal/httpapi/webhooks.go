package httpapi

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/webhook"
)

// Webhooks stores a tenant's endpoints and their deliveries.
type Webhooks interface {
	CreateWebhook(ctx context.Context, w protostar.Webhook, sealedSecret []byte, maxPerTenant int) (protostar.Webhook, error)
	Webhook(ctx context.Context, tenantID, id string) (protostar.Webhook, error)
	Webhooks(ctx context.Context, tenantID string) ([]protostar.Webhook, error)
	UpdateWebhook(ctx context.Context, tenantID, id string, p protostar.WebhookPatch) (protostar.Webhook, error)
	DeleteWebhook(ctx context.Context, tenantID, id string) error
	RotateWebhookSecret(ctx context.Context, tenantID, id string, sealed []byte, overlap time.Duration) error
	SendTestEvent(ctx context.Context, tenantID, id string) (string, error)
	RetryDelivery(ctx context.Context, tenantID, webhookID, deliveryID string) error
	Deliveries(ctx context.Context, tenantID, webhookID string, limit int, cursor string) ([]protostar.Delivery, string, error)
}

// WebhookDeps are what the webhook routes need besides the store.
type WebhookDeps struct {
	Store     Webhooks
	Sealer    *webhook.Sealer // nil: PROTOSTAR_SECRET_KEY is not set, webhooks are unavailable
	Guard     *webhook.Guard
	PerTenant int           // endpoints per tenant (default 20)
	Overlap   time.Duration // how long a rotated-out secret keeps signing (default 24h)
}

type webhookBody struct {
	URL         string   `json:"url" maxLength:"2048" doc:"https URL (http only to hosts in PROTOSTAR_WEBHOOK_ALLOW_HOSTS)" example:"https://app.example.com/protostar/events"`
	EventTypes  []string `json:"event_types,omitempty" maxItems:"16" doc:"Event types to send; empty or absent: all" example:"[\"document.ready\",\"document.failed\"]"`
	Description string   `json:"description,omitempty" maxLength:"500"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Default true"`
}

type createWebhookInput struct{ Body webhookBody }

type webhookWithSecret struct {
	Body struct {
		Webhook protostar.Webhook `json:"webhook"`
		Secret  string            `json:"secret" doc:"The signing secret (whsec_…), shown only now" example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
	}
}

func withSecret(w protostar.Webhook, secret string) *webhookWithSecret {
	out := &webhookWithSecret{}
	out.Body.Webhook, out.Body.Secret = w, secret
	return out
}

type webhookIDInput struct {
	ID string `path:"id" doc:"Webhook id" example:"0193a4f3-0a2b-7c4d-8e5f-60718293a4b5"`
}

type webhookOutput struct{ Body protostar.Webhook }

type patchWebhookInput struct {
	ID   string `path:"id" doc:"Webhook id" example:"0193a4f3-0a2b-7c4d-8e5f-60718293a4b5"`
	Body struct {
		URL         *string   `json:"url,omitempty" maxLength:"2048"`
		EventTypes  *[]string `json:"event_types,omitempty" maxItems:"16"`
		Description *string   `json:"description,omitempty" maxLength:"500"`
		Enabled     *bool     `json:"enabled,omitempty" doc:"Enabling clears disabled_reason and the failure streak"`
	}
}

type listWebhooksOutput struct {
	Body struct {
		Webhooks []protostar.Webhook `json:"webhooks"`
	}
}

type listDeliveriesInput struct {
	ID     string `path:"id" doc:"Webhook id" example:"0193a4f3-0a2b-7c4d-8e5f-60718293a4b5"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor string `query:"cursor" maxLength:"200"`
}

type listDeliveriesOutput struct {
	Body struct {
		Deliveries []protostar.Delivery `json:"deliveries"`
		NextCursor string               `json:"next_cursor,omitempty"`
	}
}

type deliveryIDInput struct {
	ID       string `path:"id" doc:"Webhook id" example:"0193a4f3-0a2b-7c4d-8e5f-60718293a4b5"`
	Delivery string `path:"delivery" doc:"Delivery id" example:"0193a4f3-2222-7333-8444-555566667777"`
}

type deliveryOutput struct {
	Body struct {
		DeliveryID string `json:"delivery_id"`
	}
}

// checkWebhook validates what a create or a patch sets.
func (s *Server) checkWebhook(url *string, types *[]string) error {
	if s.deps.Webhooks.Sealer == nil {
		return protostar.Errorf(protostar.EUNAVAILABLE, "webhooks are not configured on this server: set PROTOSTAR_SECRET_KEY")
	}
	if url != nil {
		if err := s.deps.Webhooks.Guard.CheckURL(*url); err != nil {
			return err
		}
	}
	if types != nil {
		for _, t := range *types {
			if !slices.Contains(protostar.EventTypes, t) {
				return protostar.Errorf(protostar.EINVALID, "unknown event type %q; known: %v", excerpt(t), protostar.EventTypes)
			}
		}
	}
	return nil
}

func (s *Server) registerWebhooks(api huma.API) {
	if s.deps.Webhooks.Store == nil {
		return
	}
	store := func() Webhooks { return s.deps.Webhooks.Store }
	huma.Register(api, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/v1/webhooks", Tags: []string{"webhooks"},
		Summary:       "Create a webhook endpoint",
		Description:   "Events are signed per Standard Webhooks 1.0 (webhook-id, webhook-timestamp, webhook-signature). The secret is returned only here.",
		DefaultStatus: http.StatusCreated, Errors: []int{400, 401, 429, 503},
	}, func(ctx context.Context, in *createWebhookInput) (*webhookWithSecret, error) {
		b := in.Body
		if err := s.checkWebhook(&b.URL, &b.EventTypes); err != nil {
			return nil, s.problem(ctx, err)
		}
		secret := webhook.NewSecret()
		w, err := store().CreateWebhook(ctx, protostar.Webhook{TenantID: TenantFrom(ctx), URL: b.URL, Description: b.Description,
			EventTypes: b.EventTypes, Enabled: b.Enabled == nil || *b.Enabled}, s.deps.Webhooks.Sealer.Seal(secret), s.deps.Webhooks.PerTenant)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return withSecret(w, secret), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/v1/webhooks", Tags: []string{"webhooks"},
		Summary: "List webhook endpoints", Errors: []int{401},
	}, func(ctx context.Context, _ *struct{}) (*listWebhooksOutput, error) {
		ws, err := store().Webhooks(ctx, TenantFrom(ctx))
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &listWebhooksOutput{}
		out.Body.Webhooks = nonNilSlice(ws)
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/v1/webhooks/{id}", Tags: []string{"webhooks"},
		Summary: "Get a webhook endpoint", Errors: []int{401, 404},
	}, func(ctx context.Context, in *webhookIDInput) (*webhookOutput, error) {
		w, err := store().Webhook(ctx, TenantFrom(ctx), in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &webhookOutput{Body: w}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "update-webhook", Method: http.MethodPatch, Path: "/v1/webhooks/{id}", Tags: []string{"webhooks"},
		Summary: "Change a webhook endpoint", Errors: []int{400, 401, 404, 503},
	}, func(ctx context.Context, in *patchWebhookInput) (*webhookOutput, error) {
		b := in.Body
		if err := s.checkWebhook(b.URL, b.EventTypes); err != nil {
			return nil, s.problem(ctx, err)
		}
		w, err := store().UpdateWebhook(ctx, TenantFrom(ctx), in.ID, protostar.WebhookPatch{URL: b.URL,
			Description: b.Description, EventTypes: b.EventTypes, Enabled: b.Enabled})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &webhookOutput{Body: w}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/v1/webhooks/{id}", Tags: []string{"webhooks"},
		Summary: "Delete a webhook endpoint and its deliveries", DefaultStatus: http.StatusNoContent, Errors: []int{401, 404},
	}, func(ctx context.Context, in *webhookIDInput) (*struct{}, error) {
		if err := store().DeleteWebhook(ctx, TenantFrom(ctx), in.ID); err != nil {
			return nil, s.problem(ctx, err)
		}
		return nil, nil
	})
	s.registerWebhookActions(api, store)
}

func (s *Server) registerWebhookActions(api huma.API, store func() Webhooks) {
	huma.Register(api, huma.Operation{
		OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: "/v1/webhooks/{id}/rotate-secret", Tags: []string{"webhooks"},
		Summary:     "Replace a webhook's signing secret",
		Description: "The old secret keeps signing alongside the new one (a second v1 signature) for PROTOSTAR_WEBHOOK_SECRET_OVERLAP (24h by default).",
		Errors:      []int{401, 404, 503},
	}, func(ctx context.Context, in *webhookIDInput) (*webhookWithSecret, error) {
		if err := s.checkWebhook(nil, nil); err != nil {
			return nil, s.problem(ctx, err)
		}
		secret := webhook.NewSecret()
		tenant := TenantFrom(ctx)
		if err := store().RotateWebhookSecret(ctx, tenant, in.ID, s.deps.Webhooks.Sealer.Seal(secret), s.deps.Webhooks.Overlap); err != nil {
			return nil, s.problem(ctx, err)
		}
		w, err := store().Webhook(ctx, tenant, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return withSecret(w, secret), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "test-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/test", Tags: []string{"webhooks"},
		Summary: "Send a webhook.test event to the endpoint", DefaultStatus: http.StatusAccepted, Errors: []int{401, 404, 409},
	}, func(ctx context.Context, in *webhookIDInput) (*deliveryOutput, error) {
		id, err := store().SendTestEvent(ctx, TenantFrom(ctx), in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &deliveryOutput{}
		out.Body.DeliveryID = id
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/v1/webhooks/{id}/deliveries", Tags: []string{"webhooks"},
		Summary: "List a webhook's deliveries, newest first, with their attempts", Errors: []int{400, 401, 404},
	}, func(ctx context.Context, in *listDeliveriesInput) (*listDeliveriesOutput, error) {
		ds, next, err := store().Deliveries(ctx, TenantFrom(ctx), in.ID, in.Limit, in.Cursor)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &listDeliveriesOutput{}
		out.Body.Deliveries, out.Body.NextCursor = nonNilSlice(ds), next
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "retry-webhook-delivery", Method: http.MethodPost, Path: "/v1/webhooks/{id}/deliveries/{delivery}/retry",
		Tags: []string{"webhooks"}, Summary: "Send a delivery again now", DefaultStatus: http.StatusAccepted, Errors: []int{401, 404},
	}, func(ctx context.Context, in *deliveryIDInput) (*deliveryOutput, error) {
		if err := store().RetryDelivery(ctx, TenantFrom(ctx), in.ID, in.Delivery); err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &deliveryOutput{}
		out.Body.DeliveryID = in.Delivery
		return out, nil
	})
}
