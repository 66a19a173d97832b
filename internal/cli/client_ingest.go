package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
)

// How many uploads, and job waits (each one open event stream), run at
// once.
const (
	ingestUploads = 4
	ingestWaits   = 8
)

// ingested is the outcome of one file.
type ingested struct {
	Key        string `json:"key"`
	Path       string `json:"path"`
	DocumentID string `json:"document_id,omitempty"`
	JobID      string `json:"job_id,omitempty"`
	// Status is ready or failed; with --no-wait it is the document's status
	// when accepted (pending), or failed.
	Status string `json:"status"`
	Chunks int    `json:"chunks"`
	Error  string `json:"error,omitempty"`
}

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newClientCmd("ingest", "PATH... [flags]",
		"Upload Markdown files, and folders of them (*.md and *.markdown, recursively), and wait\n"+
			"until every one is indexed. A folder's files are stored under their path relative to it.")
	noWait := cmd.fs.Bool("no-wait", false, "return once every file is uploaded; do not wait for indexing")
	paths, err := cmd.parse(args, stdout)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return cmd.usageErr("no PATH given")
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	files, err := collectFiles(paths)
	if err != nil {
		return err
	}

	results := make([]ingested, len(files))
	for i, f := range files {
		results[i] = ingested{Key: f.Key, Path: f.Path}
	}
	var line *statusLine
	if !cmd.json && isTerminal(stdout) {
		line = &statusLine{w: stdout}
		line.set(progressBar("ingesting", 0, len(files)))
	}
	finished := 0
	for i := range ingestAll(ctx, c, results, !*noWait) {
		finished++
		switch {
		case cmd.json:
		case line != nil:
			line.set(progressBar("ingesting", finished, len(files)))
		default:
			printIngested(stdout, results[i])
		}
	}
	if line != nil {
		line.keep()
	}

	slices.SortFunc(results, func(a, b ingested) int { return cmp.Compare(a.Key, b.Key) })
	failed := 0
	for _, r := range results {
		if r.Status == protostar.DocumentFailed {
			failed++
		}
	}
	if cmd.json {
		if err := writeJSON(stdout, map[string]any{"documents": results}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout)
		if err := ingestTable(stdout, results, *noWait); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d documents failed", failed, len(results))
	}
	return nil
}

// ingestAll uploads every file of results, at most ingestUploads at once,
// and unless wait is false waits for each ingest job, at most ingestWaits
// at once. It fills in results[i] and then sends i on the returned
// channel, which is closed when every goroutine it started has ended.
func ingestAll(ctx context.Context, c *client.Client, results []ingested, wait bool) <-chan int {
	done := make(chan int)
	next := make(chan int)
	waits := make(chan struct{}, ingestWaits)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(next)
		for i := range results {
			next <- i
		}
	})
	for range min(ingestUploads, len(results)) {
		wg.Go(func() {
			for i := range next {
				r := &results[i]
				sub, err := c.UploadFile(ctx, r.Key, r.Path)
				if err != nil {
					r.Status, r.Error = protostar.DocumentFailed, "upload: "+err.Error()
					done <- i
					continue
				}
				r.DocumentID, r.JobID, r.Status = sub.Document.ID, sub.Job.ID, sub.Document.Status
				if !wait {
					done <- i
					continue
				}
				wg.Go(func() {
					waits <- struct{}{}
					defer func() { <-waits }()
					j, err := c.WaitJob(ctx, sub.Job.ID, nil)
					r.finish(j, err)
					done <- i
				})
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// finish records the end of the document's ingest job.
func (r *ingested) finish(j protostar.Job, err error) {
	switch {
	case err != nil:
		r.Status, r.Error = protostar.DocumentFailed, err.Error()
	case j.Status == protostar.JobSucceeded:
		r.Status = protostar.DocumentReady
		var res protostar.IngestResult
		if json.Unmarshal(j.Result, &res) == nil {
			r.Chunks = res.ChunksTotal
		}
	default:
		r.Status, r.Error = protostar.DocumentFailed, cmp.Or(j.Error, "job "+j.Status)
	}
}

// printIngested prints one line per finished document, for output that is
// not a terminal.
func printIngested(w io.Writer, r ingested) {
	switch {
	case r.Error != "":
		fmt.Fprintf(w, "%-7s %s: %s\n", r.Status, r.Key, oneLine(r.Error, 200))
	case r.Status == protostar.DocumentReady:
		fmt.Fprintf(w, "%-7s %s (%d chunks)\n", r.Status, r.Key, r.Chunks)
	default:
		fmt.Fprintf(w, "%-7s %s\n", r.Status, r.Key)
	}
}

// ingestTable prints the final table of an ingest.
func ingestTable(w io.Writer, results []ingested, noWait bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if noWait {
		fmt.Fprintln(tw, "KEY\tSTATUS\tDOCUMENT\tJOB\tERROR")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Key, r.Status, r.DocumentID, r.JobID, oneLine(r.Error, 80))
		}
	} else {
		fmt.Fprintln(tw, "KEY\tSTATUS\tCHUNKS\tERROR")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Key, r.Status, r.Chunks, oneLine(r.Error, 80))
		}
	}
	return tw.Flush()
}
