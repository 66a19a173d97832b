package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
)

func runSummarize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newClientCmd("summarize", "ID|KEY [flags]",
		"Summarise a document, named by its id or its key, and wait for the summary.")
	length := cmd.fs.String("length", "medium", "short, medium or long")
	pos, err := cmd.parse(args, stdout)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return cmd.usageErr("want exactly one document id or key, got %d arguments", len(pos))
	case !protostar.ValidSummaryLength(*length):
		return cmd.usageErr("--length must be short, medium or long, not %q", *length)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	id, err := resolveDocument(ctx, c, pos[0])
	if err != nil {
		return err
	}
	s, err := c.Summarize(ctx, id, *length)
	if err != nil {
		return err
	}
	if s.Job != nil {
		if s, err = waitSummary(ctx, c, id, *length, *s.Job, !cmd.json && isTerminal(stdout), stdout); err != nil {
			return err
		}
	}
	if cmd.json {
		return writeJSON(stdout, s)
	}
	fmt.Fprintln(stdout, s.Text)
	about := []string{fmt.Sprintf("version %d", s.Version), fmt.Sprintf("%d sections", s.Sections)}
	if s.Model != "" {
		about = append(about, s.Model)
	}
	if s.Cached {
		about = append(about, "cached")
	}
	fmt.Fprintf(stdout, "\n— %s summary of %s (%s)\n", s.Length, pos[0], strings.Join(about, ", "))
	return nil
}

// resolveDocument returns the id of the document named by arg: arg itself
// when it is a UUID, else the id of the document with key arg.
func resolveDocument(ctx context.Context, c *client.Client, arg string) (string, error) {
	if isUUID(arg) {
		return arg, nil
	}
	page, err := c.Documents(ctx, protostar.DocumentFilter{Key: arg, Limit: 1})
	if err != nil {
		return "", fmt.Errorf("look up key %q: %w", arg, err)
	}
	if len(page.Documents) == 0 {
		return "", fmt.Errorf("no document with key %q", arg)
	}
	return page.Documents[0].ID, nil
}

// waitSummary waits for the summary job, showing its progress on a
// terminal, and reads the summary it made.
func waitSummary(ctx context.Context, c *client.Client, id, length string, job protostar.Job, tty bool, stdout io.Writer) (client.SummaryResult, error) {
	var onChange func(protostar.Job)
	line := &statusLine{w: stdout}
	if tty {
		onChange = func(j protostar.Job) {
			if j.Progress.Total > 0 {
				line.set(fmt.Sprintf("summarizing: %d/%d sections", j.Progress.Done, j.Progress.Total))
			} else {
				line.set("summarizing: " + j.Status)
			}
		}
		onChange(job)
	}
	j, err := c.WaitJob(ctx, job.ID, onChange)
	line.clear()
	if err != nil {
		return client.SummaryResult{}, err
	}
	if j.Status != protostar.JobSucceeded {
		return client.SummaryResult{}, fmt.Errorf("summary job %s %s: %s", j.ID, j.Status, j.Error)
	}
	return c.Summary(ctx, id, length)
}

// isUUID reports whether s is a UUID in its canonical 36-character form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
