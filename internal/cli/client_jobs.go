package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
)

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newClientCmd("jobs", "[flags]", "List jobs, newest first.")
	status := cmd.fs.String("status", "", "only jobs with this status: queued, running, succeeded, failed or canceled")
	limit := cmd.fs.Int("limit", 20, "jobs per page, 1-100")
	all := cmd.fs.Bool("all", false, "list every page, not only the first")
	pos, err := cmd.parse(args, stdout)
	if err != nil {
		return err
	}
	if err := checkListArgs(cmd, pos, *limit, *status, protostar.JobQueued, protostar.JobRunning,
		protostar.JobSucceeded, protostar.JobFailed, protostar.JobCanceled); err != nil {
		return err
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	f := client.JobFilter{Status: *status, Limit: *limit}
	jobs, next, err := listPages(*all, func(cursor string) ([]protostar.Job, string, error) {
		f.Cursor = cursor
		page, err := c.Jobs(ctx, f)
		return page.Jobs, page.NextCursor, err
	})
	if err != nil {
		return err
	}
	if cmd.json {
		return writeJSON(stdout, client.JobPage{Jobs: nonNil(jobs), NextCursor: next})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tPROGRESS\tATTEMPTS\tERROR")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d/%d\t%s\n", j.ID, j.Type, j.Status, j.Progress.Done, j.Progress.Total,
			j.Attempts, j.MaxAttempts, oneLine(j.Error, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintln(stderr, "more jobs: use --all")
	}
	return nil
}
