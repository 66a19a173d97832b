package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
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
	if err := checkListArgs(cmd, pos, *limit, *status, protostar.DocumentPending, protostar.DocumentIndexing,
		protostar.DocumentReady, protostar.DocumentFailed); err != nil {
		return err
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	f := protostar.DocumentFilter{Status: *status, Limit: *limit}
	docs, next, err := listPages(*all, func(cursor string) ([]protostar.Document, string, error) {
		f.Cursor = cursor
		page, err := c.Documents(ctx, f)
		return page.Documents, page.NextCursor, err
	})
	if err != nil {
		return err
	}
	if cmd.json {
		return writeJSON(stdout, client.DocumentPage{Documents: nonNil(docs), NextCursor: next})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tSTATUS\tVERSION\tCHUNKS\tUPDATED")
	for _, d := range docs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", d.ID, d.Key, d.Status, d.Version, d.ChunkCount, localTime(d.UpdatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
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

// checkListArgs validates what the listing commands share: no positional
// arguments, --limit within the API's page size and --status among
// statuses (or empty).
func checkListArgs(cmd *clientCmd, pos []string, limit int, status string, statuses ...string) error {
	switch {
	case len(pos) > 0:
		return cmd.usageErr("unexpected argument %q", pos[0])
	case limit < 1 || limit > 100:
		return cmd.usageErr("--limit must be between 1 and 100")
	case status != "" && !slices.Contains(statuses, status):
		return cmd.usageErr("--status must be %s, not %q", orList(statuses), status)
	}
	return nil
}

// orList joins options as "a, b or c".
func orList(options []string) string {
	if len(options) < 2 {
		return strings.Join(options, "")
	}
	return strings.Join(options[:len(options)-1], ", ") + " or " + options[len(options)-1]
}

// listPages returns the items of the first page, or of every page when all
// is set, and the cursor of the page after the last one fetched.
func listPages[T any](all bool, fetch func(cursor string) ([]T, string, error)) ([]T, string, error) {
	var items []T
	cursor := ""
	for {
		page, next, err := fetch(cursor)
		if err != nil {
			return nil, "", err
		}
		items = append(items, page...)
		if !all || next == "" {
			return items, next, nil
		}
		cursor = next
	}
}
