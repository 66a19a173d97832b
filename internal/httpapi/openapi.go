package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sort"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

// Arrays in the API are never null: the schemas say so, and encodeJSON
// writes a nil slice as [] (a TypeScript caller would otherwise have to
// guard every array field).
func init() { huma.DefaultArrayNullable = false }

// noWebhooks, noAccounts and noSpaces stand in for the optional stores
// while the document is built, so that every route is registered; none of
// their methods is called.
type (
	webhookStore = Webhooks // a field named Webhooks would hide the method
	noWebhooks   struct{ webhookStore }
	noAccounts   struct{ Accounts }
	noSpaces     struct{ EmbeddingSpaces }
)

// OpenAPIDocument builds the API's OpenAPI 3.1 document, the one GET
// /openapi.json serves, without connecting to anything. It is what
// `protostar openapi` prints and api/openapi.json holds.
func OpenAPIDocument() ([]byte, error) {
	s := New(slog.New(slog.DiscardHandler), Deps{Webhooks: WebhookDeps{Store: noWebhooks{}}, Accounts: noAccounts{}, Spaces: noSpaces{}}, Config{})
	raw, err := json.MarshalIndent(s.oapi, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the OpenAPI document: %w", err)
	}
	return append(raw, '\n'), nil
}

// describeAPI completes the document after every route is registered:
// where it is served and under which terms, and the problem answers every
// /v1 operation can give besides its own, since authentication, the query
// check, rate limits and an unavailable Postgres apply to each of them.
func describeAPI(oapi *huma.OpenAPI) {
	oapi.Servers = []*huma.Server{{URL: "http://127.0.0.1:8080", Description: "`protostar all` with the defaults (`make run`); use your deployment's address"}}
	oapi.Info.License = &huma.License{Name: "Proprietary", Identifier: "LicenseRef-Proprietary"}
	oapi.Info.Contact = &huma.Contact{Name: "Protostar platform team"}
	oapi.Tags = []*huma.Tag{
		{Name: "documents", Description: "Markdown documents: submitted by key or uploaded, ingested in the background, kept in step with the bucket"},
		{Name: "jobs", Description: "Background work (ingest, summaries, syncs, tenant deletion) with its progress, as JSON or server-sent events"},
		{Name: "search", Description: "Hybrid vector and Korean-aware keyword search over a tenant's chunks"},
		{Name: "answers", Description: "Answers grounded in the tenant's documents, with citations, whole or streamed"},
		{Name: "summaries", Description: "Map-reduce summaries of documents, cached per document version"},
		{Name: "webhooks", Description: "Endpoints that receive signed events (Standard Webhooks 1.0), their deliveries and secrets"},
		{Name: "tenants", Description: "Tenants created at run time; platform keys only"},
		{Name: "keys", Description: "API keys, stored as hashes and shown once"},
		{Name: "embedding spaces", Description: "Embedding models side by side: create a space, backfill it, activate it, roll back, retire; platform keys only"},
	}
	freeform := func(doc string) *huma.Schema {
		return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true, Description: doc}
	}
	setProperty(oapi, "Document", "metadata", freeform("The document's metadata, as submitted or from x-amz-meta-* headers"))
	setProperty(oapi, "Job", "result", freeform("What a succeeded job did; by type: ingest {chunks_total, chunks_embedded, chunks_reused, bytes_read}, "+
		"summary {sections_total, sections_summarized, sections_reused, generator_calls}, sync {listed, ingested, reingested, deleted, unchanged, skipped}, "+
		"tenant_delete {documents, cache_entries}"))
	describeWebhookEvent(oapi)
	common := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable}
	oapi.Components.Parameters = map[string]*huma.Param{"ProtostarTenant": {
		Name: TenantHeader, In: "header", Example: "org_4815", Schema: &huma.Schema{Type: huma.TypeString, MaxLength: ptr(64)},
		Description: "With a platform key: the tenant to act for (required on tenant routes, absent for the platform's own keys and jobs). " +
			"Refused (403) with a tenant key.",
	}}
	for p, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			if routeScope(p) != scopePlatform {
				op.Parameters = append(op.Parameters, &huma.Param{Ref: "#/components/parameters/ProtostarTenant"})
			}
			for _, status := range common {
				key := fmt.Sprint(status)
				if op.Responses[key] == nil {
					op.Responses[key] = problemResponse(status)
				}
			}
			for key, r := range op.Responses {
				if key == "429" || key == "503" {
					r.Headers = map[string]*huma.Param{"Retry-After": {
						Description: "Seconds to wait before retrying", Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(0.0)}}}
				}
			}
		}
	}
}

// describeWebhookEvent documents what protostar sends to webhook
// endpoints (OpenAPI 3.1 webhooks), so clients get the event's type too.
func describeWebhookEvent(oapi *huma.OpenAPI) {
	header := func(name, doc, example string) *huma.Param {
		return &huma.Param{Name: name, In: "header", Required: true, Description: doc,
			Schema: &huma.Schema{Type: huma.TypeString}, Example: example}
	}
	oapi.Webhooks = map[string]*huma.PathItem{"event": {Post: &huma.Operation{
		OperationID: "webhook-event", Tags: []string{"webhooks"},
		Summary: "An event, signed per Standard Webhooks 1.0",
		Description: "Sent to each enabled endpoint whose event_types include its type. Verify the signature over the raw body " +
			"(the TypeScript client's verifyWebhook does) before trusting it; answer 2xx within PROTOSTAR_WEBHOOK_TIMEOUT.",
		Parameters: []*huma.Param{
			header("webhook-id", "The event's id, the same on every retry: deduplicate on it", "msg_2mN8qLr0VbXk1S3"),
			header("webhook-timestamp", "Unix seconds when this attempt was signed", "1733356800"),
			header("webhook-signature", "Space-separated v1,<base64 HMAC-SHA256> signatures of id.timestamp.body (two while a secret rotates)",
				"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
		},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: oapi.Components.Schemas.Schema(reflect.TypeOf(protostar.Event{}), true, "")},
		}},
		Responses: map[string]*huma.Response{"200": {Description: "Received; any 2xx will do"}},
	}}}
}

// setProperty replaces the schema of a component's property: raw JSON
// fields (json.RawMessage) would otherwise be typed as anything.
func setProperty(oapi *huma.OpenAPI, component, property string, s *huma.Schema) {
	if c := oapi.Components.Schemas.Map()[component]; c != nil && c.Properties[property] != nil {
		c.Properties[property] = s
	}
}

// problemResponse is an RFC 9457 problem answer with status.
func problemResponse(status int) *huma.Response {
	return &huma.Response{Description: http.StatusText(status), Content: map[string]*huma.MediaType{
		"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}},
	}}
}

// jsonContent is an application/json body of v's type.
func jsonContent(reg huma.Registry, v any) map[string]*huma.MediaType {
	return map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(reflect.TypeOf(v), true, "")}}
}

func ptr[T any](v T) *T { return &v }

// streamEvent is one kind of event of a text/event-stream answer: its name
// and the Go type of its JSON data.
type streamEvent struct {
	name string
	data any
}

// eventStreamSchema describes a text/event-stream answer as huma's sse
// package does: a sequence of messages, each a oneOf of typed events with
// their name as a constant and their data's schema. Our streams write the
// events themselves (string ids, comments, problems before the first
// event), so they are not registered through sse.Register.
func eventStreamSchema(reg huma.Registry, events []streamEvent) *huma.Schema {
	one := make([]*huma.Schema, 0, len(events))
	for _, ev := range events {
		t := reflect.TypeOf(ev.data)
		one = append(one, &huma.Schema{
			Title: "Event " + ev.name, Type: huma.TypeObject,
			Properties: map[string]*huma.Schema{
				"id":    {Type: huma.TypeString, Description: "The event id, to send as Last-Event-ID when reconnecting"},
				"event": {Type: huma.TypeString, Description: "The event name", Extensions: map[string]any{"const": ev.name}},
				"data":  reg.Schema(t, true, t.Name()),
				"retry": {Type: huma.TypeInteger, Description: "The reconnection delay in milliseconds"},
			},
			Required: []string{"event", "data"},
		})
	}
	sort.Slice(one, func(i, j int) bool { return one[i].Title < one[j].Title })
	return &huma.Schema{
		Title:       "Server-sent events",
		Description: "Each item is one event of the stream, written as text/event-stream (event, id and data lines; data is JSON).",
		Type:        huma.TypeArray, Items: &huma.Schema{OneOf: one},
	}
}
