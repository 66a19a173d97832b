package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
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
		Summary:     "Stream a job's progress",
		Description: "text/event-stream: a `progress` event (the job) whenever it changes, then `done` (the job) when it ends.",
		Errors:      []int{401, 404},
	}, func(ctx context.Context, in *jobIDInput) (*huma.StreamResponse, error) {
		tenant := TenantFrom(ctx)
		first, err := s.deps.Store.Job(ctx, tenant, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			ev := &eventWriter{hctx: hctx}
			ctx := hctx.Context()
			j, last := first, any(nil)
			tick := time.NewTicker(jobPollInterval)
			defer tick.Stop()
			lastWrite := time.Now()
			for {
				if j.Terminal() {
					_ = ev.send("done", j)
					return
				}
				if !reflect.DeepEqual(last, j) {
					if ev.send("progress", j) != nil {
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
					return
				case <-tick.C:
				}
				if j, err = s.deps.Store.Job(ctx, tenant, in.ID); err != nil {
					_ = ev.send("error", map[string]string{"detail": "job status unavailable; reconnect to resume"})
					return
				}
			}
		}}, nil
	})
}
