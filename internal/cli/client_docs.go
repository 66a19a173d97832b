package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
)

func runDocs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newClientCmd("docs", "[flags]", "List documents, newest first.")
	status := cmd.fs.String("status", "", "only documents with this status: pending, indexing, ready or failed")
	limit := cmd.fs.Int("limit", 20, "documents per page, 1-100")
	all := cmd.fs.Bool("all", false, "list every page, not only the first")
	pos, err := cmd.parse(args, stdout)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return cmd.usageErr("unexpected argument %q", pos[0])
	case *limit < 1 || *limit > 100:
		return cmd.usageErr("--limit must be between 1 and 100")
	case !oneOf(*status, "", protostar.DocumentPending, protostar.DocumentIndexing, protostar.DocumentReady, protostar.DocumentFailed):
		return cmd.usageErr("--status must be pending, indexing, ready or failed, not %q", *status)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var docs []protostar.Document
	f := protostar.DocumentFilter{Status: *status, Limit: *limit}
	var page client.DocumentPage
	for {
		if page, err = c.Documents(ctx, f); err != nil {
			return err
		}
		docs = append(docs, page.Documents...)
		if !*all || page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if cmd.json {
		return writeJSON(stdout, client.DocumentPage{Documents: nonNil(docs), NextCursor: page.NextCursor})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tSTATUS\tVERSION\tCHUNKS\tUPDATED")
	for _, d := range docs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", d.ID, d.Key, d.Status, d.Version, d.ChunkCount, localTime(d.UpdatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintln(stderr, "more documents: use --all")
	}
	return nil
}

// localTime formats t in the local zone, to the second.
func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// nonNil makes an empty listing encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// oneOf reports whether s is one of the options.
func oneOf(s string, options ...string) bool {
	return slices.Contains(options, s)
}
