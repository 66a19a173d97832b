package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/protostar/protostar"
)

// TestRefusedUploadLeavesTheBucket: an upload refused after its bytes were
// received (here: the tenant is at its job cap) leaves the live object as
// it was, and the accepted upload before it is what gets indexed. The
// upload used to be written to the live key before the cap and the commit
// were checked, so a 429 had already overwritten the object.
func TestRefusedUploadLeavesTheBucket(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve", "PROTOSTAR_TENANT_MAX_ACTIVE_JOBS=1")
	first := p.mustUpload("refused/doc.md", keyA, []byte("# Accepted\n\nThe accepted version.\n"))
	if code, body := p.upload("refused/doc.md", keyA, []byte("# Refused\n\nThe refused version.\n")); code != http.StatusTooManyRequests {
		t.Fatalf("second upload at the cap: %d %s, want 429", code, short(body))
	}
	store := s.objects()
	body, _, err := store.Open(context.Background(), protostar.ObjectKey("acme", "refused/doc.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if string(got) != "# Accepted\n\nThe accepted version.\n" {
		t.Fatalf("live object after the refused upload = %q, want the accepted version", got)
	}
	w := s.start("worker")
	defer w.Stop()
	if j := p.waitJob(first.Job.ID, keyA, 60*time.Second); j.Status != "succeeded" {
		t.Fatalf("accepted upload's job = %+v", j)
	}
	code, raw := p.do(http.MethodPost, "/v1/search", keyA, map[string]any{"query": "accepted version", "mode": "keyword"})
	if code != http.StatusOK || !bytes.Contains(raw, []byte("The accepted version.")) || bytes.Contains(raw, []byte("refused version")) {
		t.Fatalf("search after indexing: %d %s", code, short(raw))
	}
}
