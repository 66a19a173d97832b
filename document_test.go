package protostar_test

import (
	"testing"

	"github.com/protostar/protostar"
)

func TestValidateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key string
		ok  bool
	}{
		{"notes/a.md", true},
		{"노트/회의록 2026.md", true},
		{"", false},
		{"/etc/passwd", false},
		{"a/../b.md", false},
		{"./a.md", false},
		{`a\b.md`, false},
		{"a//b.md", false},
		{"a/", false},
		{"a\x00.md", false},
		{"a\nb.md", false},
		{"invoice-\u202eFDP.md", false},
		{"a\u2066b.md", false},
		{"\xff.md", false},
		{"a\u200bb.md", false}, // zero-width space
		{"a\u200db.md", false}, // zero-width joiner
		{"\ufeffa.md", false},  // byte-order mark
	}
	for _, tt := range tests {
		if err := protostar.ValidateKey(tt.key); (err == nil) != tt.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
	}
}

// TestNormalizeKey: the NFD spelling of a name (as macOS writes it) is the
// same document as its NFC spelling; they used to be two.
func TestNormalizeKey(t *testing.T) {
	t.Parallel()
	nfd, nfc := "\u1112\u1161\u11ab.md", "\ud55c.md" // 한.md decomposed and composed
	got, err := protostar.NormalizeKey(nfd)
	if err != nil || got != nfc {
		t.Fatalf("NormalizeKey(NFD) = %q, %v; want %q", got, err, nfc)
	}
	if _, err := protostar.NormalizeKey("a\u200bb.md"); protostar.ErrorCode(err) != protostar.EINVALID {
		t.Fatalf("zero-width key: %v, want EINVALID", err)
	}
}
