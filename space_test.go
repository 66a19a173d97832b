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
