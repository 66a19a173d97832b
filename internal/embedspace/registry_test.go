package embedspace_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/embedspace"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/testenv"
)

func setup(t *testing.T) (*embedspace.Registry, *bytes.Buffer, *int) {
	t.Helper()
	db := testenv.NewDB(t, 16)
	var logs bytes.Buffer
	built := 0
	reg := embedspace.NewRegistry(slog.New(slog.NewTextHandler(&logs, nil)), db, func(spec protostar.SpaceSpec) (protostar.Embedder, error) {
		built++
		if spec.Model == "wrong-size" {
			return hashembed.New(spec.Dimensions * 2)
		}
		return hashembed.New(spec.Dimensions)
	})
	return reg, &logs, &built
}

func TestCheckConfigWarnsOnAnotherModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		configured protostar.SpaceSpec
		warns      bool
	}{
		{"the active space's settings", protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 16}, false},
		{"another dimension", protostar.SpaceSpec{Provider: "hash", Model: "hash-v1", Dimensions: 32}, true},
		{"another model of the same dimension", protostar.SpaceSpec{Provider: "openai", Model: "text-embedding-3-small", Dimensions: 16}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, logs, _ := setup(t)
			s, err := reg.CheckConfig(context.Background(), tt.configured)
			if err != nil || s.ID != 1 {
				t.Fatalf("active space %+v, %v", s, err)
			}
			if got := strings.Contains(logs.String(), "does not match the active embedding space"); got != tt.warns {
				t.Fatalf("warned = %v, want %v; log:\n%s", got, tt.warns, logs)
			}
		})
	}
}

// Each space's embedder is built once, from the space's settings, and
// must make vectors of the space's dimension.
func TestRegistryEmbedderPerSpace(t *testing.T) {
	t.Parallel()
	reg, _, built := setup(t)
	ctx := context.Background()
	for range 3 {
		se, err := reg.ForTenant(ctx, "a")
		if err != nil || se.Embedder.Dimensions() != 16 || se.Space.ID != 1 {
			t.Fatalf("ForTenant = %+v, %v", se, err)
		}
	}
	if *built != 1 {
		t.Fatalf("embedder built %d times, want once", *built)
	}
	_, err := reg.For(protostar.EmbeddingSpace{ID: 7, SpaceSpec: protostar.SpaceSpec{Provider: "hash", Model: "wrong-size", Dimensions: 16}})
	if protostar.ErrorCode(err) != protostar.EINVALID {
		t.Fatalf("an embedder of the wrong size: %v, want EINVALID", err)
	}
}
