-- +goose Up
-- Webhook endpoints, the events written in the same transaction as the
-- state change that causes them (an outbox), one delivery per event and
-- endpoint, and every attempt of each delivery.
CREATE TABLE webhook_endpoints (
    id                        uuid PRIMARY KEY,
    tenant_id                 text        NOT NULL,
    url                       text        NOT NULL,
    description               text        NOT NULL DEFAULT '',
    event_types               text[]      NOT NULL DEFAULT '{}', -- empty: every type
    enabled                   boolean     NOT NULL DEFAULT true,
    disabled_reason           text        NOT NULL DEFAULT '',
    secret                    bytea       NOT NULL, -- sealed with PROTOSTAR_SECRET_KEY
    previous_secret           bytea,
    previous_secret_expires   timestamptz,
    failing_since             timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at);

CREATE TABLE webhook_events (
    id         text PRIMARY KEY, -- msg_…: the webhook-id header
    tenant_id  text        NOT NULL,
    type       text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    event_id        text        NOT NULL REFERENCES webhook_events ON DELETE CASCADE,
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    tenant_id       text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    locked_until    timestamptz, -- a dispatcher holds it until then
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (endpoint_id) WHERE status = 'pending' AND locked_until IS NOT NULL;

CREATE TABLE webhook_attempts (
    delivery_id uuid        NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    tenant_id   text        NOT NULL,
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL,
    status_code integer     NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    latency_ms  bigint      NOT NULL DEFAULT 0,
    response    text        NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
