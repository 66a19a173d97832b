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
	}
	for _, tt := range tests {
		if err := protostar.ValidateKey(tt.key); (err == nil) != tt.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
	}
}
