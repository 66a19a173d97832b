package markdown

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHeadingBomb: every heading used to start a chunk, so 1 MiB of
// "# a\n" made 262,144 chunks (about 1 GB in Postgres, and as many
// embedding inputs). Small sections are now packed together: the chunk
// count follows the token count.
func TestHeadingBomb(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("# a\n", 1<<18)
	res := chunkString(t, in, Options{})
	tokens := 0
	for _, c := range res.chunks {
		tokens += c.Tokens
	}
	// Each chunk holds at least PackTokens (64) tokens but the last.
	if limit := tokens/64 + 1; len(res.chunks) > limit {
		t.Fatalf("%d chunks for %d tokens, want at most %d", len(res.chunks), tokens, limit)
	}
}

// TestSmallSectionsArePacked: a section below PackTokens shares its chunk
// with the next; the chunk reports the heading path they share, and the
// headings themselves stay in its text.
func TestSmallSectionsArePacked(t *testing.T) {
	t.Parallel()
	in := "# Guide\n\n## 설치\n\nRun apt.\n\n## 운영\n\nWatch it.\n\n# Other\n\nText.\n"
	res := chunkString(t, in, Options{MaxTokens: 64, PackTokens: 16, OverlapTokens: noOverlap})
	want := []pathBody{
		{[]string{"Guide"}, "# Guide\n\n## 설치\n\nRun apt.\n\n## 운영\n\nWatch it."},
		{[]string{"Other"}, "# Other\n\nText."},
	}
	if diff := cmp.Diff(want, pathBodies(res.chunks)); diff != "" {
		t.Fatalf("chunks mismatch (-want +got):\n%s", diff)
	}
}
