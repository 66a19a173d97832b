package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

// TestSyncObject: one key through the states a bucket can put it in, each
// step applying what a HEAD found, in order.
func TestSyncObject(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	var docID string
	var version int
	steps := []struct {
		name string
		seq  string
		obj  protostar.ObjectState
		want string
	}{
		{name: "nothing yet", seq: "10", obj: protostar.ObjectState{}, want: protostar.SyncAbsent},
		{name: "created", seq: "20", obj: protostar.ObjectState{Exists: true, ETag: "e1", Metadata: map[string]any{"team": "infra"}}, want: protostar.SyncIngested},
		{name: "the same event again", seq: "20", obj: protostar.ObjectState{Exists: true, ETag: "e1"}, want: protostar.SyncStale},
		{name: "an older event late", seq: "15", obj: protostar.ObjectState{}, want: protostar.SyncStale},
		{name: "a newer event, object as it was", seq: "21", obj: protostar.ObjectState{Exists: true, ETag: "e1", Metadata: map[string]any{"team": "infra"}}, want: protostar.SyncUnchanged},
		{name: "metadata changed", seq: "22", obj: protostar.ObjectState{Exists: true, ETag: "e1", Metadata: map[string]any{"team": "db"}}, want: protostar.SyncReingested},
		{name: "content changed (reconcile)", obj: protostar.ObjectState{Exists: true, ETag: "e2", Metadata: map[string]any{"team": "db"}}, want: protostar.SyncReingested},
		{name: "protostar's own write", seq: "23", obj: protostar.ObjectState{Exists: true, ETag: "e3", WrittenBy: "own"}, want: protostar.SyncOwnWrite},
		{name: "after the own write, unchanged", seq: "24", obj: protostar.ObjectState{Exists: true, ETag: "e3", Metadata: map[string]any{"team": "db"}}, want: protostar.SyncUnchanged},
		{name: "removed", seq: "25", obj: protostar.ObjectState{}, want: protostar.SyncDeleted},
		{name: "removed again", seq: "26", obj: protostar.ObjectState{}, want: protostar.SyncAbsent},
	}
	for _, st := range steps {
		if st.obj.WrittenBy == "own" {
			st.obj.WrittenBy = fmt.Sprintf("%s:%d", docID, version)
		}
		got, job, err := db.SyncObject(ctx, protostar.ObjectSync{TenantID: "a", Key: "k.md", Sequencer: st.seq,
			Source: protostar.SourceEvent, MaxAttempts: 3},
			func(context.Context) (protostar.ObjectState, error) { return st.obj, nil })
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Fatalf("%s: outcome %s, want %s", st.name, got, st.want)
		}
		if (job.ID != "") != (got == protostar.SyncIngested || got == protostar.SyncReingested) {
			t.Fatalf("%s: job %+v with outcome %s", st.name, job, got)
		}
		if job.ID != "" {
			docID = job.DocumentID
			d, err := db.Document(ctx, "a", docID)
			if err != nil {
				t.Fatal(err)
			}
			version = d.Version
			if d.Source != protostar.SourceEvent {
				t.Errorf("%s: source %q", st.name, d.Source)
			}
		}
	}
	// Another tenant's key of the same name is another document.
	got, _, err := db.SyncObject(ctx, protostar.ObjectSync{TenantID: "b", Key: "k.md", Sequencer: "01", Source: protostar.SourceEvent, MaxAttempts: 3},
		func(context.Context) (protostar.ObjectState, error) {
			return protostar.ObjectState{Exists: true, ETag: "x"}, nil
		})
	if err != nil || got != protostar.SyncIngested {
		t.Fatalf("tenant b: %s %v, want ingested", got, err)
	}
}

// TestSyncObjectLeavesUploadsInFlight: while an accepted upload is being
// promoted to its key, the object is not there yet; a removal event must
// not delete the document.
func TestSyncObjectLeavesUploadsInFlight(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t, dims)
	ctx := context.Background()
	if _, _, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "a", Key: "up.md", MaxAttempts: 3,
		Staged: protostar.StagingKey("a", "x")}); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.SyncObject(ctx, protostar.ObjectSync{TenantID: "a", Key: "up.md", Sequencer: "05", Source: protostar.SourceEvent},
		func(context.Context) (protostar.ObjectState, error) { return protostar.ObjectState{}, nil })
	if err != nil || got != protostar.SyncInFlight {
		t.Fatalf("outcome %s %v, want in_flight", got, err)
	}
	if docs, _, err := db.Documents(ctx, "a", protostar.DocumentFilter{Key: "up.md", Limit: 10}); err != nil || len(docs) != 1 {
		t.Fatalf("documents %v %v, want the upload's", docs, err)
	}
}
