//go:build faults

package faults

import (
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

// slowEmbedder is an OpenAI-compatible embeddings endpoint whose every
// request takes delay: the way to make a job run as long as a scenario
// needs (past the job timeout, past the shutdown budget) through the
// worker's real openai provider. Its vectors are deterministic.
type slowEmbedder struct {
	*testenv.Embedder
}

func newSlowEmbedder(t *testing.T, delay time.Duration) *slowEmbedder {
	return &slowEmbedder{testenv.NewEmbedder(t, delay, nil)}
}

func (e *slowEmbedder) setDelay(d time.Duration) { e.SetDelay(d) }

// env points a cluster's workers at the endpoint.
func (e *slowEmbedder) env() []string {
	return []string{"PROTOSTAR_EMBED_PROVIDER=openai", "PROTOSTAR_OPENAI_BASE_URL=" + e.URL,
		"PROTOSTAR_OPENAI_API_KEY=sk-faults", "PROTOSTAR_EMBED_MODEL=slow-embedder"}
}
