package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
)

// snippetRunes is how long a search result's snippet may be.
const snippetRunes = 160

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newClientCmd("search", "QUERY [flags]",
		"Search the documents. Several words without quotes form one query.")
	mode := cmd.fs.String("mode", "", "hybrid, vector or keyword (default hybrid)")
	topK := cmd.fs.Int("top-k", 0, "number of results, 1-100 (default 10)")
	prefix := cmd.fs.String("prefix", "", "only documents whose key starts with this")
	pos, err := cmd.parse(args, stdout)
	if err != nil {
		return err
	}
	query := strings.TrimSpace(strings.Join(pos, " "))
	switch {
	case query == "":
		return cmd.usageErr("no QUERY given")
	case *mode != "" && *mode != protostar.SearchHybrid && *mode != protostar.SearchVector && *mode != protostar.SearchKeyword:
		return cmd.usageErr("--mode must be hybrid, vector or keyword, not %q", *mode)
	case *topK < 0:
		return cmd.usageErr("--top-k must be positive")
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	hits, err := c.Search(ctx, client.SearchRequest{Query: query, TopK: *topK, Mode: *mode,
		Filter: protostar.SearchFilter{KeyPrefix: *prefix}})
	if err != nil {
		return err
	}
	if cmd.json {
		return writeJSON(stdout, map[string]any{"results": hits})
	}
	if len(hits) == 0 {
		fmt.Fprintf(stdout, "no results for %q\n", query)
		return nil
	}
	for i, h := range hits {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%2d. %.4f  %s\n    %s\n", i+1, h.Score, headingPath(h.Key, h.HeadingPath), snippet(h.Text, snippetRunes))
	}
	return nil
}

// snippet is a one-line excerpt of a chunk's text of at most n runes. The
// chunk's leading heading lines are left out: the heading path shows them.
func snippet(text string, n int) string {
	for {
		line, rest, _ := strings.Cut(strings.TrimLeft(text, " \t\r\n"), "\n")
		if !isHeadingLine(line) || rest == "" {
			break
		}
		text = rest
	}
	return oneLine(text, n)
}

// isHeadingLine reports whether line is a Markdown ATX heading ("## Setup").
func isHeadingLine(line string) bool {
	hashes := len(line) - len(strings.TrimLeft(line, "#"))
	return hashes >= 1 && hashes <= 6 && (len(line) == hashes || line[hashes] == ' ' || line[hashes] == '\t')
}
