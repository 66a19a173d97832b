package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

// TestDeleteRemovesUploadedObject: DELETE /v1/documents/{id} of an
// uploaded document removes the object protostar stored, in the
// background; a document registered by key leaves the producer's object in
// the bucket. DELETE used to leave every uploaded object behind.
func TestDeleteRemovesUploadedObject(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all", "PROTOSTAR_PURGE_INTERVAL=1s")
	ctx := context.Background()
	store := s.objects()
	uploaded := p.mustUpload("gone/uploaded.md", keyA, []byte("# Uploaded\n\nStored by protostar.\n"))
	owned := []byte("# Owned\n\nWritten by the producer.\n")
	if _, err := store.Put(ctx, protostar.ObjectKey("acme", "gone/owned.md"), bytes.NewReader(owned), int64(len(owned)), "text/markdown"); err != nil {
		t.Fatal(err)
	}
	code, body := p.do(http.MethodPost, "/v1/documents", keyA, map[string]any{"key": "gone/owned.md"})
	if code != http.StatusAccepted {
		t.Fatalf("register: %d %s", code, short(body))
	}
	registered := decode[accepted](t, body)
	for _, a := range []accepted{uploaded, registered} {
		if j := p.waitJob(a.Job.ID, keyA, time.Minute); j.Status != "succeeded" {
			t.Fatalf("job = %+v", j)
		}
		if code, body := p.do(http.MethodDelete, "/v1/documents/"+a.Document.ID, keyA, nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", code, short(body))
		}
	}
	exists := func(key string) bool {
		_, err := store.Stat(ctx, protostar.ObjectKey("acme", key))
		return err == nil
	}
	testenv.WaitFor(t, 30*time.Second, "the uploaded object to be removed", func() bool { return !exists("gone/uploaded.md") })
	if !exists("gone/owned.md") {
		t.Fatal("deleting a document registered by key removed the producer's object")
	}
}
