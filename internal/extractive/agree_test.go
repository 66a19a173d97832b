package extractive

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/protostar/protostar/internal/markdown"
)

// TestAgreesWithChunker: the summariser and the chunker classify lines with
// the same functions, so they agree on headings and code. They used to
// disagree on a setext underline of a single "-" (a heading to the
// summariser only) and on a backtick fence whose info string holds a
// backtick (code to the summariser only).
func TestAgreesWithChunker(t *testing.T) {
	tests := []struct {
		name, src string
		heading   string // a heading both see, or neither if !isHeading
		isHeading bool
		prose     string // a sentence both must keep as prose ("" for none)
	}{
		{"single dash underline", "Title one\n-\n\nThe body is here.", "Title one", false, ""},
		{"double dash underline", "Title two\n--\n\nThe body is here.", "Title two", true, ""},
		{"equals underline", "Title three\n=\n\nThe body is here.", "Title three", true, ""},
		{"backtick in a backtick fence's info", "```go`x\nPlain words stay prose.\n", "", false, "Plain words stay prose."},
		{"tilde fence with backticks", "Before.\n\n~~~go`x\nHidden words here.\n~~~\n\nAfter it.", "", false, ""},
		{"fence indented four", "Para.\n\n    ```\n    code\n    ```\n", "", false, ""},
		{"empty ATX", "#\n\nBody words.", "", false, "Body words."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headings, sentences []string
			for _, u := range segment(tt.src, false) {
				switch u.kind {
				case unitHeading:
					headings = append(headings, u.text)
				case unitSentence:
					sentences = append(sentences, u.text)
				}
			}
			chunked := chunkerHeadings(t, tt.src)
			if tt.heading != "" {
				if got := slices.Contains(headings, tt.heading); got != tt.isHeading {
					t.Errorf("summariser: %q a heading = %v, want %v (headings %q)", tt.heading, got, tt.isHeading, headings)
				}
				if got := slices.Contains(chunked, tt.heading); got != tt.isHeading {
					t.Errorf("chunker: %q a heading = %v, want %v (headings %q)", tt.heading, got, tt.isHeading, chunked)
				}
			}
			if tt.prose != "" && !slices.ContainsFunc(sentences, func(s string) bool { return strings.Contains(s, tt.prose) }) {
				t.Errorf("summariser dropped %q as code; sentences %q", tt.prose, sentences)
			}
			for _, s := range sentences {
				if strings.Contains(s, "Hidden") || strings.Contains(s, "code") {
					t.Errorf("summariser kept code as prose: %q", s)
				}
			}
		})
	}
}

// chunkerHeadings returns every heading title in the chunks' heading paths.
func chunkerHeadings(t *testing.T, src string) []string {
	t.Helper()
	c, err := markdown.NewChunker(strings.NewReader(src), markdown.Options{MaxTokens: 64})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		ch, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ch.HeadingPath...)
	}
}
