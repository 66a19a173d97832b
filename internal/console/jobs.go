package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/protostar/protostar"
)

// Live jobs: how often the stream looks for changes, how many jobs of each
// status it shows, and the longest silence before a keep-alive comment.
const (
	livePoll      = time.Second
	liveJobs      = 50
	liveKeepAlive = 15 * time.Second
	failedPerPage = 20
)

type jobsData struct {
	Failed       []protostar.Job
	Next, Cursor string
}

type liveData struct {
	Running, Queued []protostar.Job
}

// jobs shows the live panel (filled over SSE by liveJobs) and the failed
// jobs, paged on the server.
func (c *Console) jobs(w http.ResponseWriter, r *http.Request, rq *request) {
	d := jobsData{Cursor: r.URL.Query().Get("cursor")}
	var err error
	if d.Failed, d.Next, err = c.deps.Store.Jobs(r.Context(), rq.tenant, protostar.JobFailed, failedPerPage, d.Cursor); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, rq, http.StatusOK, "jobs", d)
}

// liveJobs streams the running and queued jobs as server-sent events: an
// HTML fragment (event "jobs") whenever they change. The stream counts
// against the tenant's stream limit and ends on shutdown, as the API's do;
// the browser's EventSource reconnects.
func (c *Console) liveJobs(w http.ResponseWriter, r *http.Request, rq *request) {
	c.stream(w, r, rq, func(ctx context.Context, ev *eventWriter) { c.followJobs(ctx, r, rq, ev) })
}

// followJobs writes the live jobs fragment whenever it changes until ctx
// ends or a write fails.
func (c *Console) followJobs(ctx context.Context, r *http.Request, rq *request, ev *eventWriter) {
	last, lastWrite := "", time.Time{}
	tick := time.NewTicker(livePoll)
	defer tick.Stop()
	for {
		d, err := c.liveState(ctx, rq.tenant)
		if err != nil {
			if ctx.Err() == nil {
				_ = ev.send("jobs", `<p class="alert" role="alert">`+template.HTMLEscapeString(protostar.ErrorMessage(err))+`</p>`)
			}
			return
		}
		var b bytes.Buffer
		if err := c.pages["jobs"].ExecuteTemplate(&b, "live", c.pageOf(r, rq, "jobs", d)); err != nil {
			c.logger.Error("render live jobs", "error", err)
			return
		}
		switch {
		case b.String() != last:
			if ev.send("jobs", b.String()) != nil {
				return
			}
			last, lastWrite = b.String(), time.Now()
		case time.Since(lastWrite) > liveKeepAlive:
			if ev.comment("ping") != nil {
				return
			}
			lastWrite = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Console) liveState(ctx context.Context, tenant string) (liveData, error) {
	var d liveData
	var err error
	if d.Running, _, err = c.deps.Store.Jobs(ctx, tenant, protostar.JobRunning, liveJobs, ""); err != nil {
		return d, err
	}
	d.Queued, _, err = c.deps.Store.Jobs(ctx, tenant, protostar.JobQueued, liveJobs, "")
	return d, err
}

// retryJob runs a failed job's work again: an ingest job's document is
// reindexed, a summary job's summary requested again, through the same
// calls as the API's.
func (c *Console) retryJob(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	j, err := c.deps.Store.Job(ctx, rq.tenant, r.PathValue("id"))
	if err == nil {
		err = c.retry(ctx, rq.tenant, j)
	}
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	redirect(w, r, "/console/jobs", "jobs.retried")
}

func (c *Console) retry(ctx context.Context, tenant string, j protostar.Job) error {
	switch {
	case j.Status != protostar.JobFailed && j.Status != protostar.JobCanceled:
		return protostar.Errorf(protostar.ECONFLICT, "job %s is %s; only failed or canceled jobs are retried", j.ID, j.Status)
	case j.Type == protostar.JobIngest:
		_, next, err := c.deps.Store.ReindexDocument(ctx, tenant, j.DocumentID, c.cfg.JobMaxAttempts, c.cfg.TenantMaxJobs)
		if err == nil {
			c.deps.Dispatcher.Dispatch(ctx, next)
		}
		return err
	case j.Type == protostar.JobSummary:
		var params struct{ Length string }
		if err := json.Unmarshal(j.Params, &params); err != nil {
			return fmt.Errorf("read summary job %s parameters: %w", j.ID, err)
		}
		_, _, err := c.deps.Summaries.Request(ctx, tenant, j.DocumentID, params.Length)
		return err
	}
	return protostar.Errorf(protostar.EINVALID, "%s jobs are not retried from the console", j.Type)
}

// stream serves a server-sent event stream with body, holding one of the
// tenant's stream slots (the API's limit, lifetime and shutdown) meanwhile.
func (c *Console) stream(w http.ResponseWriter, r *http.Request, rq *request, body func(ctx context.Context, ev *eventWriter)) {
	ctx, release, err := c.deps.Auth.AcquireStream(r.Context(), rq.tenant)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	defer release()
	body(ctx, &eventWriter{w: w})
}

// eventWriter writes server-sent events whose data is HTML, one data line
// per line, flushing each.
type eventWriter struct {
	w       http.ResponseWriter
	started bool
}

func (e *eventWriter) send(event, data string) error {
	var b strings.Builder
	b.WriteString("event: " + event + "\n")
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + strings.TrimRight(line, "\r") + "\n")
	}
	b.WriteString("\n")
	return e.write(b.String())
}

func (e *eventWriter) comment(text string) error { return e.write(": " + text + "\n\n") }

func (e *eventWriter) write(frame string) error {
	if !e.started {
		e.started = true
		h := e.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		e.w.WriteHeader(http.StatusOK)
	}
	if _, err := io.WriteString(e.w, frame); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if err := http.NewResponseController(e.w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("flush event: %w", err)
	}
	return nil
}
