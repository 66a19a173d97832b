package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/protostar/protostar"
)

// JobFilter selects jobs in a listing.
type JobFilter struct {
	Status string // queued, running, succeeded, failed or canceled; empty for all
	Limit  int    // page size, 1–100; 0 for the API's default
	Cursor string // NextCursor of the previous page
}

// JobPage is one page of a job listing, newest first.
type JobPage struct {
	Jobs       []protostar.Job `json:"jobs"`
	NextCursor string          `json:"next_cursor,omitempty"` // empty on the last page
}

// Job returns one job. A missing job is an *Error with status 404.
func (c *Client) Job(ctx context.Context, id string) (protostar.Job, error) {
	var j protostar.Job
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/jobs/" + pathID(id)}, &j)
	return j, err
}

// Jobs returns one page of the tenant's jobs that match f.
func (c *Client) Jobs(ctx context.Context, f JobFilter) (JobPage, error) {
	q := url.Values{}
	setQuery(q, "status", f.Status)
	setQuery(q, "cursor", f.Cursor)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var p JobPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/jobs", query: q}, &p)
	return p, err
}

// maxWaitFailures is how many failed requests in a row WaitJob tolerates.
const maxWaitFailures = 8

// WaitJob blocks until the job is terminal (succeeded, failed or canceled)
// and returns it; a failed job is not an error. It follows the job's event
// stream, calling onChange (if not nil) with every state the job passes
// through. When the stream breaks it polls the job and reconnects; when
// the API has no event stream it polls every PollInterval. Network
// failures and 429, 502, 503 and 504 answers are retried with backoff, up
// to maxWaitFailures in a row; other answers (a 404 for an unknown job)
// end the wait with the *Error.
func (c *Client) WaitJob(ctx context.Context, id string, onChange func(protostar.Job)) (protostar.Job, error) {
	var last protostar.Job
	notify := func(j protostar.Job) {
		if onChange != nil && (j.Status != last.Status || j.Progress != last.Progress || j.Attempts != last.Attempts) {
			onChange(j)
		}
		last = j
	}
	streaming, failures := true, 0
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failures++
		if !retryable(err) || failures >= maxWaitFailures {
			return fmt.Errorf("wait for job %s: %w", id, err)
		}
		return sleep(ctx, backoff(failures))
	}
	for {
		if streaming {
			j, got, err := c.followJob(ctx, id, notify)
			if err == nil {
				return j, nil
			}
			if got {
				failures = 0
			}
			switch st := StatusOf(err); {
			case st == http.StatusNotFound || st == http.StatusMethodNotAllowed:
				streaming = false // no event stream here, or no such job: polling tells which
			default:
				if err := fail(err); err != nil {
					return last, err
				}
			}
		}
		j, err := c.Job(ctx, id)
		if err != nil {
			if err := fail(err); err != nil {
				return last, err
			}
			continue
		}
		failures = 0
		notify(j)
		if j.Terminal() {
			return j, nil
		}
		if !streaming {
			if err := sleep(ctx, PollInterval); err != nil {
				return last, err
			}
		}
	}
}

// followJob reads the job's event stream until its done event. got
// reports whether any event arrived, so callers can tell a stream that
// broke after working from one that never opened.
func (c *Client) followJob(ctx context.Context, id string, notify func(protostar.Job)) (job protostar.Job, got bool, err error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/jobs/" + pathID(id) + "/events", accept: "text/event-stream"})
	if err != nil {
		return job, false, err
	}
	defer resp.Body.Close()
	err = readStream(resp.Body, func(ev event) error {
		got = true
		if ev.Name != "progress" && ev.Name != "done" {
			return nil
		}
		var j protostar.Job
		if err := json.Unmarshal(ev.Data, &j); err != nil {
			return fmt.Errorf("decode job %s event: %w", ev.Name, err)
		}
		notify(j)
		if ev.Name == "done" {
			job = j
			return errStop
		}
		return nil
	})
	return job, got, err
}

// streamError decodes an error event's {"detail": …} data.
func streamError(data []byte) error {
	var e struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(data, &e) != nil || e.Detail == "" {
		e.Detail = "the API reported an error in the stream"
	}
	return &StreamError{Detail: e.Detail}
}

// backoff is the pause after n failures in a row: 250 ms doubling to 4 s.
func backoff(n int) time.Duration {
	return min(PollInterval<<min(n-1, 4), 4*time.Second)
}
