package protostar_test

import (
	"strings"
	"testing"

	"github.com/protostar/protostar"
)

func TestValidateMetadata(t *testing.T) {
	t.Parallel()
	nest := func(depth int) any {
		var v any = "leaf"
		for range depth {
			v = map[string]any{"k": v}
		}
		return v
	}
	tests := []struct {
		name    string
		m       map[string]any
		wantErr string // "" for valid
	}{
		{"flat", map[string]any{"team": "infra", "n": 3.0, "tags": []any{"a", "b"}}, ""},
		{"four levels", map[string]any{"a": nest(3)}, ""},
		{"six levels", map[string]any{"a": nest(5)}, "nests deeper than 4 levels"},
		{"900 KB value", map[string]any{"big": strings.Repeat("x", 900<<10)}, "at most 65536 are allowed"},
		{"NUL in a value", map[string]any{"a": "x\x00y"}, "NUL"},
		{"NUL in a nested key", map[string]any{"a": map[string]any{"b\x00": 1}}, "NUL"},
		{"bad key", map[string]any{"a b": 1}, "may contain only"},
		{"not JSON", map[string]any{"a": map[any]any{1: 2}}, "cannot be stored as JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := protostar.ValidateMetadata("front matter", tt.m)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("rejected valid metadata: %v", err)
				}
				return
			}
			if protostar.ErrorCode(err) != protostar.EINVALID || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "front matter") {
				t.Fatalf("err = %v, want EINVALID naming front matter with %q", err, tt.wantErr)
			}
		})
	}
}
