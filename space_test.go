package protostar_test

import (
	"testing"

	"github.com/protostar/protostar"
)

func TestSpaceSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec protostar.SpaceSpec
		ok   bool
	}{
		{protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 384}, true},
		{protostar.SpaceSpec{Provider: "hash", Model: "hash-v2-dense", Dimensions: 384}, true},
		{protostar.SpaceSpec{Provider: "hash", Model: "hash-v3", Dimensions: 384}, false},
		{protostar.SpaceSpec{Provider: "openai", Model: "text-embedding-3-small", Dimensions: 1536}, true},
		{protostar.SpaceSpec{Provider: "openai", Model: "", Dimensions: 1536}, false},
		{protostar.SpaceSpec{Provider: "magic", Model: "m", Dimensions: 384}, false},
		{protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 4001}, false},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if (err == nil) != tt.ok || (err != nil && protostar.ErrorCode(err) != protostar.EINVALID) {
			t.Errorf("Validate(%s) = %v, want ok=%v (EINVALID otherwise)", tt.spec.Fingerprint(), err, tt.ok)
		}
	}
}

// The index type a space gets: its own choice, else the configured
// default, and halfvec above 2000 dimensions whatever the default; an
// explicit vector there, or an unknown type, is invalid.
func TestSpaceIndexType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dims      int
		index     string
		def       string
		want      string
		wantValid bool
	}{
		{"no choice, no default", 384, "", "", protostar.IndexVector, true},
		{"the configured default", 384, "", protostar.IndexHalfvec, protostar.IndexHalfvec, true},
		{"an explicit choice wins", 384, protostar.IndexVector, protostar.IndexHalfvec, protostar.IndexVector, true},
		{"above 2000 whatever the default", 3072, "", protostar.IndexVector, protostar.IndexHalfvec, true},
		{"explicit vector above 2000", 3072, protostar.IndexVector, "", protostar.IndexHalfvec, false},
		{"an unknown type", 384, "pq", "", "pq", false},
	}
	for _, tt := range tests {
		spec := protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: tt.dims, Index: tt.index}.WithIndexDefault(tt.def)
		err := spec.Validate()
		if got := spec.IndexType(); got != tt.want || (err == nil) != tt.wantValid {
			t.Errorf("%s: index type %q, Validate %v; want %q, valid %v", tt.name, got, err, tt.want, tt.wantValid)
		}
		if err != nil && protostar.ErrorCode(err) != protostar.EINVALID {
			t.Errorf("%s: %v is not EINVALID", tt.name, err)
		}
	}
	a := protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 384, Index: protostar.IndexVector}
	b := a
	b.Index = protostar.IndexHalfvec
	if a.Fingerprint() != b.Fingerprint() {
		t.Errorf("the index type changed the fingerprint: %s, %s", a.Fingerprint(), b.Fingerprint())
	}
}
