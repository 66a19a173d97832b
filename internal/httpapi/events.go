package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

// jobPollInterval is how often a job's event stream looks for changes;
// keepAliveEvery bounds the silence on a stream whose job does not change.
const (
	jobPollInterval = 250 * time.Millisecond
	keepAliveEvery  = 15 * time.Second
)

func (s *Server) registerJobEvents(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "job-events", Method: http.MethodGet, Path: "/v1/jobs/{id}/events", Tags: []string{"jobs"},
		Summary: "Stream a job's progress",
		Description: "text/event-stream: a `progress` event (the job) whenever it changes, then `done` (the job) when it ends. " +
			"Each event has an `id`; a stream ends after a maximum lifetime or when the server shuts down, and a client " +
			"that reconnects with `Last-Event-ID` is not sent the state it already has. A tenant may hold a limited number of streams (429 above).",
		Errors: []int{401, 404, 429},
		Responses: map[string]*huma.Response{"200": {Description: "The job's events", Content: map[string]*huma.MediaType{
			"text/event-stream": {Schema: eventStreamSchema(api.OpenAPI().Components.Schemas, jobEvents)},
		}}},
	}, func(ctx context.Context, in *jobEventsInput) (*huma.StreamResponse, error) {
		tenant := TenantFrom(ctx)
		first, err := s.deps.Store.Job(ctx, tenant, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		sctx, release, err := s.streams.acquire(ctx, tenant)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer release()
			s.followJob(sctx, &eventWriter{hctx: hctx}, first, in.LastEventID)
		}}, nil
	})
}

// The events of a job's stream: progress (the job) whenever it changes,
// done (the job) when it ends, error when its state cannot be read.
var jobEvents = []streamEvent{{"progress", protostar.Job{}}, {"done", protostar.Job{}}, {"error", streamError{}}}

type jobEventsInput struct {
	ID          string `path:"id" doc:"Job id" example:"0193a4f2-6c1f-7d52-8a11-5be0c3f9d214"`
	LastEventID string `header:"Last-Event-ID" doc:"The id of the last event received, to resume without a repeat"`
}

// eventID names a job's state as clients see it: a hash of its JSON, so
// it changes whenever the job does.
func eventID(j protostar.Job) string {
	raw, _ := json.Marshal(j)
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return strconv.FormatUint(h.Sum64(), 36)
}

// followJob writes j's events until it ends, ctx ends (the client left,
// the stream's lifetime is up, or the server shuts down) or a write fails.
func (s *Server) followJob(ctx context.Context, ev *eventWriter, j protostar.Job, lastID string) {
	var last any
	if lastID != "" && lastID == eventID(j) && !j.Terminal() {
		last = j // the client has this state already
	}
	_ = ev.write("retry", "retry: 1000\n\n") // reconnect after a second when the stream ends
	tick := time.NewTicker(jobPollInterval)
	defer tick.Stop()
	lastWrite := time.Now()
	for {
		if j.Terminal() {
			_ = ev.sendID("done", eventID(j), j)
			return
		}
		if !reflect.DeepEqual(last, j) {
			if ev.sendID("progress", eventID(j), j) != nil {
				return
			}
			last, lastWrite = j, time.Now()
		} else if time.Since(lastWrite) > keepAliveEvery {
			// A comment line: lets clients notice a dead connection.
			if ev.comment("ping") != nil {
				return
			}
			lastWrite = time.Now()
		}
		select {
		case <-ctx.Done():
			_ = ev.comment("stream ended: " + streamEndReason(ctx) + "; reconnect with Last-Event-ID to resume")
			return
		case <-tick.C:
		}
		var err error
		if j, err = s.deps.Store.Job(ctx, j.TenantID, j.ID); err != nil {
			if ctx.Err() != nil { // ended while polling
				_ = ev.comment("stream ended: " + streamEndReason(ctx) + "; reconnect with Last-Event-ID to resume")
				return
			}
			_ = ev.send("error", streamError{Detail: "job status unavailable; reconnect to resume"})
			return
		}
	}
}

func streamEndReason(ctx context.Context) string {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStreamsEnded):
		return "the server is shutting down"
	case errors.Is(cause, context.DeadlineExceeded):
		return "its maximum lifetime is up"
	default:
		return "canceled"
	}
}
