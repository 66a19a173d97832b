package outbox_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/outbox"
	"github.com/protostar/protostar/internal/testenv"
)

// deletions records the keys deleted from the bucket.
type deletions struct {
	mu   sync.Mutex
	keys []string
}

func (d *deletions) Delete(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys = append(d.keys, key)
	return nil
}

func (d *deletions) sorted() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(slices.Values(d.keys))
}

// TestPurgeRemovesStoredObjects: deleting a document removes from the
// bucket the objects protostar stored for it (its uploaded live object and
// its staging copies), never an object the producer owns (a document
// registered by key), and never the object of a document uploaded again
// under the same key before the purge ran. DELETE used to leave every
// uploaded object in the bucket for ever.
func TestPurgeRemovesStoredObjects(t *testing.T) {
	db := testenv.NewDB(t, 4)
	ctx := context.Background()
	submitDelete := func(key, staged string) {
		t.Helper()
		d, _, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t1", Key: key, Staged: staged, MaxAttempts: 3})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteDocument(ctx, "t1", d.ID); err != nil {
			t.Fatal(err)
		}
	}
	submitDelete("uploaded.md", "stg-1")
	submitDelete("registered.md", "")
	submitDelete("again.md", "stg-2")
	if _, _, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t1", Key: "again.md", Staged: "stg-3", MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}

	bucket := &deletions{}
	ob := outbox.New(slog.New(slog.DiscardHandler), db, nopQueue{}, bucket,
		outbox.Config{Interval: 20 * time.Millisecond, PurgeEvery: 20 * time.Millisecond})
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ob.Stop()
	testenv.WaitFor(t, 10*time.Second, "no object removal left", func() bool {
		pending, err := db.PendingObjectRemovals(ctx, 10)
		return err == nil && len(pending) == 0
	})
	want := []string{"stg-1", "stg-2", protostar.ObjectKey("t1", "uploaded.md")}
	slices.Sort(want)
	if got := bucket.sorted(); !slices.Equal(got, want) {
		t.Fatalf("deleted keys = %q, want %q", got, want)
	}
}

// nopQueue accepts every job.
type nopQueue struct{}

func (nopQueue) Enqueue(context.Context, protostar.Job) error      { return nil }
func (nopQueue) Lost(context.Context, protostar.Job) (bool, error) { return false, nil }
