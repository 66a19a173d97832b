package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar"
)

// Which of the tenant's enabled endpoints an event goes to.
const (
	toSubscribers = `(cardinality(e.event_types) = 0 OR $2 = ANY(e.event_types))`
	toEndpoint    = `e.id = $3::uuid AND $2::text <> ''`    // webhook.test: the endpoint tested only
	toOthers      = `e.id <> $3::uuid AND ` + toSubscribers // webhook.disabled: the tenant's other endpoints
)

// emit records a webhook event of the tenant and one delivery of it per
// endpoint that target selects, inside tx: the event commits or rolls back
// with the state change that causes it, so none is lost when a process
// dies or Redis is down. With no such endpoint it costs one indexed query
// and builds nothing. endpointID is used by toEndpoint and toOthers.
func emit(ctx context.Context, tx pgx.Tx, tenantID, typ, target, endpointID string, data func() (protostar.EventData, error)) error {
	args := []any{tenantID, typ}
	if target != toSubscribers {
		args = append(args, endpointID)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints e WHERE e.tenant_id = $1 AND e.enabled AND `+target,
		args...).Scan(&n); err != nil {
		return fmt.Errorf("find webhook endpoints: %w", err)
	}
	if n == 0 {
		return nil
	}
	d, err := data()
	if err != nil {
		return err
	}
	payload, err := json.Marshal(protostar.Event{Type: typ, Timestamp: time.Now().UTC(), Data: d})
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	id := "msg_" + uuid.NewString()
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_events (id, tenant_id, type, payload) VALUES ($1, $2, $3, $4)`,
		id, tenantID, typ, payload); err != nil {
		return fmt.Errorf("record %s event: %w", typ, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, tenant_id, next_attempt_at)
		SELECT gen_random_uuid(), $`+fmt.Sprint(len(args)+1)+`, e.id, e.tenant_id, now()
		FROM webhook_endpoints e WHERE e.tenant_id = $1 AND e.enabled AND `+target, append(args, id)...)
	if err != nil {
		return fmt.Errorf("queue %s deliveries: %w", typ, err)
	}
	return nil
}

// emitDocument emits typ about the document as it is now in tx.
func emitDocument(ctx context.Context, tx pgx.Tx, tenantID, typ, documentID string) error {
	return emit(ctx, tx, tenantID, typ, toSubscribers, "", func() (protostar.EventData, error) {
		d, err := scanDocument(tx.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = $1`, documentID))
		return protostar.EventData{Document: &d}, err
	})
}

// emitJobFailed emits job.failed for a job that just failed in tx, and
// document.failed or summary.failed for what it failed: the document, if
// the job's version is still the document's latest, or its summary.
func emitJobFailed(ctx context.Context, tx pgx.Tx, jobID string) error {
	j, err := scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, jobID))
	if err != nil {
		return fmt.Errorf("load failed job: %w", err)
	}
	withJob := func() (protostar.EventData, error) { return protostar.EventData{Job: &j}, nil }
	if err := emit(ctx, tx, j.TenantID, protostar.EventJobFailed, toSubscribers, "", withJob); err != nil {
		return err
	}
	switch j.Type {
	case protostar.JobSummary:
		return emit(ctx, tx, j.TenantID, protostar.EventSummaryFailed, toSubscribers, "", withJob)
	case protostar.JobIngest:
		d, err := scanDocument(tx.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = $1`, j.DocumentID))
		if err != nil {
			return fmt.Errorf("load failed job's document: %w", err)
		}
		if d.Status != protostar.DocumentFailed || d.Version != j.Version {
			return nil // a newer version is on its way, or the document is gone
		}
		return emit(ctx, tx, j.TenantID, protostar.EventDocumentFailed, toSubscribers, "", func() (protostar.EventData, error) {
			return protostar.EventData{Document: &d, Job: &j}, nil
		})
	}
	return nil
}

// emitReady emits document.ready if the ingest job j just made its
// document ready: its version is the document's latest.
func emitReady(ctx context.Context, tx pgx.Tx, j protostar.Job) error {
	d, err := scanDocument(tx.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = $1 AND deleted_at IS NULL`, j.DocumentID))
	if err != nil {
		return fmt.Errorf("load ready document: %w", err)
	}
	if d.Status != protostar.DocumentReady || d.Version != j.Version {
		return nil
	}
	return emit(ctx, tx, j.TenantID, protostar.EventDocumentReady, toSubscribers, "", func() (protostar.EventData, error) {
		return protostar.EventData{Document: &d}, nil
	})
}
