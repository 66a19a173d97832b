package httpapi

import (
	"testing"

	"github.com/protostar/protostar"
)

func TestUploadSlots(t *testing.T) {
	t.Parallel()
	u := newUploads(3, 2)
	a1, err := u.acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.acquire("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.acquire("a"); protostar.ErrorCode(err) != protostar.ERATELIMITED {
		t.Fatalf("tenant's third upload: %v, want ERATELIMITED", err)
	}
	if _, err := u.acquire("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.acquire("c"); protostar.ErrorCode(err) != protostar.ERATELIMITED {
		t.Fatalf("process's fourth upload: %v, want ERATELIMITED", err)
	}
	a1()
	if _, err := u.acquire("c"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}
