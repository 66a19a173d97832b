package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

const webhookColumns = `id, tenant_id, url, description, event_types, enabled, disabled_reason, failing_since,
	created_at, updated_at`

func scanWebhook(row pgx.Row) (protostar.Webhook, error) {
	var w protostar.Webhook
	err := row.Scan(&w.ID, &w.TenantID, &w.URL, &w.Description, &w.EventTypes, &w.Enabled, &w.DisabledReason,
		&w.FailingSince, &w.CreatedAt, &w.UpdatedAt)
	return w, err
}

func webhookNotFound(id string) error {
	return protostar.Errorf(protostar.ENOTFOUND, "webhook %q not found", id)
}

// CreateWebhook stores a new endpoint of w.TenantID with its sealed secret,
// refusing one past the tenant's maxPerTenant endpoints.
func (db *DB) CreateWebhook(ctx context.Context, w protostar.Webhook, sealedSecret []byte, maxPerTenant int) (protostar.Webhook, error) {
	var out protostar.Webhook
	err := db.inTx(ctx, "create webhook", func(tx pgx.Tx) error {
		// Serialise the tenant's creations so the cap holds.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('webhooks/' || $1, 7))`, w.TenantID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1`, w.TenantID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerTenant {
			return protostar.Errorf(protostar.ERATELIMITED, "the tenant has %d webhooks, the most allowed; delete one first", n)
		}
		var err error
		out, err = scanWebhook(tx.QueryRow(ctx, `INSERT INTO webhook_endpoints
				(id, tenant_id, url, description, event_types, enabled, secret)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+webhookColumns,
			uuid.New(), w.TenantID, w.URL, w.Description, nonNil(w.EventTypes), w.Enabled, sealedSecret))
		return err
	})
	return out, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Webhook returns one of the tenant's endpoints.
func (db *DB) Webhook(ctx context.Context, tenantID, id string) (protostar.Webhook, error) {
	if !validUUID(id) {
		return protostar.Webhook{}, webhookNotFound(id)
	}
	w, err := scanWebhook(db.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints
		WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return w, notFoundAs(translate(err, "get webhook"), webhookNotFound(id))
}

// Webhooks lists the tenant's endpoints, oldest first.
func (db *DB) Webhooks(ctx context.Context, tenantID string) ([]protostar.Webhook, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE tenant_id = $1
		ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, translate(err, "list webhooks")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Webhook, error) { return scanWebhook(r) })
	return out, translate(err, "list webhooks")
}

// UpdateWebhook applies p to one of the tenant's endpoints. Enabling an
// endpoint clears why it was disabled and its failure streak.
func (db *DB) UpdateWebhook(ctx context.Context, tenantID, id string, p protostar.WebhookPatch) (protostar.Webhook, error) {
	if !validUUID(id) {
		return protostar.Webhook{}, webhookNotFound(id)
	}
	var types []string
	if p.EventTypes != nil {
		types = nonNil(*p.EventTypes)
	}
	w, err := scanWebhook(db.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET
			url = coalesce($3::text, url), description = coalesce($4::text, description),
			event_types = coalesce($5::text[], event_types), enabled = coalesce($6::boolean, enabled),
			disabled_reason = CASE WHEN $6::boolean THEN '' ELSE disabled_reason END,
			failing_since = CASE WHEN $6::boolean THEN NULL ELSE failing_since END,
			updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+webhookColumns,
		tenantID, id, p.URL, p.Description, types, p.Enabled))
	return w, notFoundAs(translate(err, "update webhook"), webhookNotFound(id))
}

// DeleteWebhook deletes one of the tenant's endpoints with its deliveries.
func (db *DB) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	if !validUUID(id) {
		return webhookNotFound(id)
	}
	// The deliveries go first, so that this takes a delivery's lock before
	// the endpoint's, as RecordAttempt does: the other way round, deleting
	// an endpoint while its attempt was recorded deadlocked.
	return db.inTx(ctx, "delete webhook", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2`, tenantID, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return webhookNotFound(id)
		}
		return nil
	})
}

// RotateWebhookSecret makes sealed the endpoint's secret; the one it
// replaces keeps signing alongside it for overlap.
func (db *DB) RotateWebhookSecret(ctx context.Context, tenantID, id string, sealed []byte, overlap time.Duration) error {
	if !validUUID(id) {
		return webhookNotFound(id)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE webhook_endpoints SET previous_secret = secret,
			previous_secret_expires = now() + $4::interval, secret = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, sealed, overlap)
	if err != nil {
		return translate(err, "rotate webhook secret")
	}
	if tag.RowsAffected() == 0 {
		return webhookNotFound(id)
	}
	return nil
}

// SendTestEvent queues a webhook.test event to one of the tenant's
// endpoints (enabled or not is the caller's business: a disabled one gets
// none) and returns the delivery's id.
func (db *DB) SendTestEvent(ctx context.Context, tenantID, id string) (string, error) {
	w, err := db.Webhook(ctx, tenantID, id)
	if err != nil {
		return "", err
	}
	if !w.Enabled {
		return "", protostar.Errorf(protostar.ECONFLICT, "webhook %q is disabled; enable it first", id)
	}
	var delivery string
	err = db.inTx(ctx, "send test event", func(tx pgx.Tx) error {
		if err := emit(ctx, tx, tenantID, protostar.EventWebhookTest, toEndpoint, id, func() (protostar.EventData, error) {
			return protostar.EventData{Webhook: &w}, nil
		}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC LIMIT 1`,
			id).Scan(&delivery)
	})
	return delivery, err
}

// RetryDelivery schedules one of the endpoint's deliveries to be sent again
// now, whatever became of it.
func (db *DB) RetryDelivery(ctx context.Context, tenantID, webhookID, deliveryID string) error {
	if !validUUID(webhookID) || !validUUID(deliveryID) {
		return protostar.Errorf(protostar.ENOTFOUND, "no such delivery of webhook %q", webhookID)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(),
			locked_until = NULL, updated_at = now()
		WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3`, tenantID, webhookID, deliveryID)
	if err != nil {
		return translate(err, "retry delivery")
	}
	if tag.RowsAffected() == 0 {
		return protostar.Errorf(protostar.ENOTFOUND, "no such delivery of webhook %q", webhookID)
	}
	return nil
}

// Deliveries lists an endpoint's deliveries, newest first, each with its
// attempts, with cursor paging.
func (db *DB) Deliveries(ctx context.Context, tenantID, webhookID string, limit int, cursor string) ([]protostar.Delivery, string, error) {
	if _, err := db.Webhook(ctx, tenantID, webhookID); err != nil {
		return nil, "", err
	}
	at, id, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.event_id, ev.type, d.endpoint_id, d.status,
			CASE WHEN d.status = 'pending' THEN d.next_attempt_at END, d.created_at, d.delivered_at,
			coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'status_code', a.status_code,
				'error', a.error, 'latency_ms', a.latency_ms, 'response', a.response) ORDER BY a.attempt)
				FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]')
		FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
		WHERE d.tenant_id = $1 AND d.endpoint_id = $2
		  AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4::uuid))
		ORDER BY d.created_at DESC, d.id DESC LIMIT $5`, tenantID, webhookID, at, id, limit+1)
	if err != nil {
		return nil, "", translate(err, "list deliveries")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Delivery, error) {
		var d protostar.Delivery
		err := r.Scan(&d.ID, &d.EventID, &d.EventType, &d.WebhookID, &d.Status, &d.NextAttemptAt, &d.CreatedAt,
			&d.DeliveredAt, &d.Attempts)
		return d, err
	})
	if err != nil {
		return nil, "", translate(err, "list deliveries")
	}
	out, next := pageOf(out, limit, func(d protostar.Delivery) (time.Time, string) { return d.CreatedAt, d.ID })
	return out, next, nil
}

// ClaimDeliveries leases up to limit due deliveries for lease, at most one
// per endpoint and none of an endpoint that has one in flight, so a slow
// or dead endpoint holds one sender at a time, never the whole pool. A
// dispatcher that dies leaves its leases to expire; the deliveries are
// claimed again then (delivery is at least once).
func (db *DB) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]protostar.Outbound, error) {
	rows, err := db.pool.Query(ctx, `WITH due AS (
			SELECT DISTINCT ON (d.endpoint_id) d.id FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
			WHERE d.status = 'pending' AND d.next_attempt_at <= now()
			  AND (d.locked_until IS NULL OR d.locked_until < now())
			  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.endpoint_id = d.endpoint_id
				AND x.status = 'pending' AND x.locked_until >= now())
			ORDER BY d.endpoint_id, d.next_attempt_at LIMIT $1),
		claimed AS (
			UPDATE webhook_deliveries d SET locked_until = now() + $2::interval, attempts = d.attempts + 1,
				updated_at = now()
			FROM due WHERE d.id = due.id AND d.status = 'pending' AND (d.locked_until IS NULL OR d.locked_until < now())
			RETURNING d.id, d.event_id, d.endpoint_id, d.tenant_id, d.attempts)
		SELECT c.id, c.event_id, c.endpoint_id, c.tenant_id, e.url, ev.payload, c.attempts,
			e.secret, e.previous_secret, e.previous_secret_expires, e.failing_since
		FROM claimed c JOIN webhook_endpoints e ON e.id = c.endpoint_id JOIN webhook_events ev ON ev.id = c.event_id`,
		limit, lease)
	if err != nil {
		return nil, translate(err, "claim deliveries")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (protostar.Outbound, error) {
		var o protostar.Outbound
		err := r.Scan(&o.DeliveryID, &o.EventID, &o.EndpointID, &o.TenantID, &o.URL, &o.Payload, &o.Attempt,
			&o.Secrets.Current, &o.Secrets.Previous, &o.Secrets.PreviousExpires, &o.FailingSince)
		return o, err
	})
	return out, translate(err, "claim deliveries")
}

// RecordAttempt stores one attempt's outcome: the attempt row, the
// delivery's next state, the endpoint's failure streak, and, when the
// outcome disables the endpoint, the endpoint disabled, its pending
// deliveries given up and a webhook.disabled event to the tenant's other
// endpoints, in one transaction. An outcome for a lease that expired and
// was claimed again is recorded as an attempt but changes nothing else.
func (db *DB) RecordAttempt(ctx context.Context, o protostar.AttemptOutcome) error {
	return db.inTx(ctx, "record delivery attempt", func(tx pgx.Tx) error {
		ob, r := o.Outbound, o.Result
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, tenant_id, attempt, at, status_code, error, latency_ms, response)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			ob.DeliveryID, ob.TenantID, ob.Attempt, r.At, r.StatusCode, r.Error, r.LatencyMS, r.Response); err != nil {
			return err
		}
		status := protostar.DeliveryPending
		switch {
		case o.Succeeded:
			status = protostar.DeliverySucceeded
		case o.NextAttemptAt == nil:
			status = protostar.DeliveryFailed
		}
		tag, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, locked_until = NULL,
				delivered_at = CASE WHEN $3 = 'succeeded' THEN now() END, updated_at = now()
			WHERE id = $1 AND attempts = $2 AND status = 'pending'`, ob.DeliveryID, ob.Attempt, status, o.NextAttemptAt)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET
				failing_since = CASE WHEN $2 THEN NULL ELSE coalesce(failing_since, now()) END
			WHERE id = $1`, ob.EndpointID, o.Succeeded); err != nil {
			return err
		}
		if o.Disable == "" {
			return nil
		}
		return disableWebhook(ctx, tx, ob.EndpointID, o.Disable)
	})
}

func disableWebhook(ctx context.Context, tx pgx.Tx, id, reason string) error {
	w, err := scanWebhook(tx.QueryRow(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2,
		updated_at = now() WHERE id = $1 AND enabled RETURNING `+webhookColumns, id, reason))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // already disabled
	}
	if err != nil {
		return fmt.Errorf("disable webhook: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', locked_until = NULL, updated_at = now()
		WHERE endpoint_id = $1 AND status = 'pending'`, id); err != nil {
		return fmt.Errorf("give up a disabled webhook's deliveries: %w", err)
	}
	return emit(ctx, tx, w.TenantID, protostar.EventWebhookDisabled, toOthers, id, func() (protostar.EventData, error) {
		return protostar.EventData{Webhook: &w}, nil
	})
}

// DeliveryBacklog returns how many deliveries are pending and the age of
// the oldest.
func (db *DB) DeliveryBacklog(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var oldest float64
	err := db.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
		FROM webhook_deliveries WHERE status = 'pending'`).Scan(&n, &oldest)
	return n, time.Duration(oldest * float64(time.Second)), translate(err, "delivery backlog")
}
