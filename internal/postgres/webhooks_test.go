package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/testenv"
)

func newWebhook(t *testing.T, db *postgres.DB, tenant string, types ...string) protostar.Webhook {
	t.Helper()
	w, err := db.CreateWebhook(context.Background(), protostar.Webhook{TenantID: tenant, URL: "https://example.com/" + tenant,
		EventTypes: types, Enabled: true}, []byte("sealed"), 5)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// pendingTypes returns the event type of each pending delivery of an
// endpoint.
func pendingTypes(t *testing.T, db *postgres.DB, endpointID string) []string {
	t.Helper()
	rows, err := db.Pool().Query(context.Background(), `SELECT ev.type FROM webhook_deliveries d
		JOIN webhook_events ev ON ev.id = d.event_id WHERE d.endpoint_id = $1 AND d.status = 'pending' ORDER BY ev.type`, endpointID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// TestEventsCommitWithTheirStateChange: a failed ingest job queues
// job.failed and document.failed for the endpoints subscribed to them (and
// nothing for another tenant's), in the transaction that failed it; a
// fail that does nothing (a later attempt holds the job) queues nothing.
func TestEventsCommitWithTheirStateChange(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	all := newWebhook(t, db, "a")
	docsOnly := newWebhook(t, db, "a", protostar.EventDocumentFailed)
	other := newWebhook(t, db, "b")
	_, j := submitStarted(t, db, "a", "fails.md")
	stale := j
	stale.Attempts = 0
	if err := db.FailJob(ctx, stale, "not this attempt"); err != nil {
		t.Fatal(err)
	}
	if got := pendingTypes(t, db, all.ID); len(got) != 0 {
		t.Fatalf("a fail that changed nothing queued %v", got)
	}
	if err := db.FailJob(ctx, j, "broken front matter"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		w    protostar.Webhook
		want []string
	}{
		{all, []string{protostar.EventDocumentFailed, protostar.EventJobFailed}},
		{docsOnly, []string{protostar.EventDocumentFailed}},
		{other, nil},
	} {
		got := pendingTypes(t, db, c.w.ID)
		if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("endpoint %v got %v, want %v", c.w.EventTypes, got, c.want)
		}
	}
}

// TestClaimHoldsOneDeliveryPerEndpoint: a claim takes at most one due
// delivery per endpoint and none of an endpoint with one in flight, so a
// slow endpoint ties up one sender; a 410 disables the endpoint, gives up
// its other deliveries and tells the tenant's other endpoints.
func TestClaimHoldsOneDeliveryPerEndpoint(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	slow, fast := newWebhook(t, db, "a", protostar.EventDocumentDeleted), newWebhook(t, db, "a", protostar.EventWebhookDisabled)
	for i := range 3 {
		d, _ := submitStarted(t, db, "a", "del-"+string(rune('a'+i))+".md")
		if err := db.DeleteDocument(ctx, "a", d.ID); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := db.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 1 || claimed[0].EndpointID != slow.ID {
		t.Fatalf("first claim = %d deliveries, %v; want one of the slow endpoint", len(claimed), err)
	}
	if again, err := db.ClaimDeliveries(ctx, 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("claim with one in flight = %d, %v; want none", len(again), err)
	}
	err = db.RecordAttempt(ctx, protostar.AttemptOutcome{Outbound: claimed[0],
		Result: protostar.DeliveryAttempt{Attempt: 1, At: time.Now(), StatusCode: 410}, Disable: "410 Gone"})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := db.Webhook(ctx, "a", slow.ID)
	if w.Enabled || w.DisabledReason != "410 Gone" || len(pendingTypes(t, db, slow.ID)) != 0 {
		t.Fatalf("after 410: %+v with %v pending", w, pendingTypes(t, db, slow.ID))
	}
	if got := pendingTypes(t, db, fast.ID); len(got) != 1 || got[0] != protostar.EventWebhookDisabled {
		t.Fatalf("the other endpoint got %v, want webhook.disabled", got)
	}
}

// TestDeleteWebhookDuringAttempt: deleting an endpoint while the
// dispatcher records an attempt of its delivery succeeds (the two took
// the endpoint's and the delivery's locks in opposite orders, and the
// delete failed with a deadlock, a 500, about one time in four).
func TestDeleteWebhookDuringAttempt(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	for i := range 60 {
		w := newWebhook(t, db, "a")
		if _, err := db.SendTestEvent(ctx, "a", w.ID); err != nil {
			t.Fatal(err)
		}
		claimed, err := db.ClaimDeliveries(ctx, 10, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %d deliveries, %v; want one", len(claimed), err)
		}
		start := make(chan struct{})
		recorded := make(chan error, 1)
		go func() {
			<-start
			recorded <- db.RecordAttempt(ctx, protostar.AttemptOutcome{Outbound: claimed[0], Succeeded: true,
				Result: protostar.DeliveryAttempt{Attempt: 1, At: time.Now(), StatusCode: 204}})
		}()
		close(start)
		time.Sleep(time.Duration(i%12) * 100 * time.Microsecond) // land the delete at different points of the attempt
		if err := db.DeleteWebhook(ctx, "a", w.ID); err != nil {
			t.Fatalf("round %d: delete during an attempt: %v", i, err)
		}
		<-recorded // it may find the delivery gone: the dispatcher logs that and moves on
	}
}
