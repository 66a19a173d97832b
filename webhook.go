package protostar

import (
	"encoding/json"
	"time"
)

// Event types a webhook endpoint can subscribe to.
const (
	EventDocumentReady   = "document.ready"
	EventDocumentFailed  = "document.failed"
	EventDocumentDeleted = "document.deleted"
	EventSummaryReady    = "summary.ready"
	EventSummaryFailed   = "summary.failed"
	EventJobFailed       = "job.failed"
	// EventWebhookDisabled goes to a tenant's other endpoints when one is
	// disabled for failing; EventWebhookTest only to the endpoint tested.
	EventWebhookDisabled = "webhook.disabled"
	EventWebhookTest     = "webhook.test"
)

// EventTypes lists the types an endpoint may name in its event_types.
var EventTypes = []string{EventDocumentReady, EventDocumentFailed, EventDocumentDeleted,
	EventSummaryReady, EventSummaryFailed, EventJobFailed, EventWebhookDisabled}

// Event is the body of a webhook delivery, as Standard Webhooks
// recommends: its type, when it happened, and the entity it is about, as
// the API returns it.
type Event struct {
	Type      string    `json:"type" enum:"document.ready,document.failed,document.deleted,summary.ready,summary.failed,job.failed,webhook.disabled,webhook.test" example:"document.ready"`
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData holds the entities an event is about.
type EventData struct {
	Document *Document `json:"document,omitempty"`
	Job      *Job      `json:"job,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
	Webhook  *Webhook  `json:"webhook,omitempty"`
}

// Webhook is a tenant's endpoint that receives signed events.
type Webhook struct {
	ID          string   `json:"id"`
	TenantID    string   `json:"-"`
	URL         string   `json:"url" example:"https://app.example.com/protostar/events"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types" example:"[\"document.ready\",\"document.failed\"]"` // empty: every type
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why protostar disabled it (410, failing too long).
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// WebhookSecrets are an endpoint's signing secrets, sealed (encrypted) for
// storage: the current one, and the one it replaced while that still
// signs alongside it.
type WebhookSecrets struct {
	Current         []byte
	Previous        []byte
	PreviousExpires *time.Time
}

// WebhookPatch changes some of an endpoint's settings; nil leaves one as is.
type WebhookPatch struct {
	URL         *string
	Description *string
	EventTypes  *[]string
	Enabled     *bool
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed" // gave up, or the endpoint was disabled
)

// Delivery is one event on its way to one endpoint, with its attempts.
type Delivery struct {
	ID            string            `json:"id"`
	EventID       string            `json:"event_id"` // the webhook-id header, stable across attempts
	EventType     string            `json:"event_type" example:"document.ready"`
	WebhookID     string            `json:"webhook_id"`
	Status        string            `json:"status" enum:"pending,succeeded,failed" example:"succeeded"`
	Attempts      []DeliveryAttempt `json:"attempts"`
	NextAttemptAt *time.Time        `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	DeliveredAt   *time.Time        `json:"delivered_at,omitempty"`
}

// DeliveryAttempt is one try at a delivery.
type DeliveryAttempt struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"` // 0: no response
	Error      string    `json:"error,omitempty"`
	LatencyMS  int64     `json:"latency_ms"`
	// Response is the start of the response body, bounded.
	Response string `json:"response,omitempty"`
}

// Outbound is a claimed delivery, with what sending it needs.
type Outbound struct {
	DeliveryID   string
	EventID      string
	EndpointID   string
	TenantID     string
	URL          string
	Payload      json.RawMessage
	Attempt      int // this attempt's number, from 1
	Secrets      WebhookSecrets
	FailingSince *time.Time
}

// AttemptOutcome is what the dispatcher decided after one attempt.
type AttemptOutcome struct {
	Outbound Outbound
	Result   DeliveryAttempt
	// Succeeded ends the delivery; otherwise NextAttemptAt schedules the
	// next attempt, or nil gives up.
	Succeeded     bool
	NextAttemptAt *time.Time
	// Disable, if not empty, disables the endpoint with this reason (410,
	// or failing longer than allowed) and tells its tenant's other
	// endpoints.
	Disable string
}
