package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/answer"
)

// Answerer answers questions from the tenant's documents.
type Answerer interface {
	Answer(ctx context.Context, req answer.Request, onDelta func(string) error) (answer.Result, error)
}

type answerInput struct {
	Body struct {
		Question string       `json:"question" minLength:"1" maxLength:"2048" example:"백업은 언제 실행되나요?"`
		TopK     int          `json:"top_k,omitempty" minimum:"1" maximum:"20" default:"5"`
		Filter   searchFilter `json:"filter,omitempty"`
		Stream   bool         `json:"stream,omitempty" doc:"Answer as text/event-stream: delta, citation, done and error events"`
	}
}

// The events of a streamed answer: deltas of its text, then its
// citations, then done; or error once the answer has started.
type (
	answerDelta struct {
		Text string `json:"text" doc:"The next piece of the answer's text" example:"백업은 매일 02:00에 실행됩니다 [1]"`
	}
	answerDone struct {
		Cached bool `json:"cached" doc:"The answer came from the cache"`
	}
	streamError struct {
		Detail string `json:"detail" doc:"What went wrong; the stream ends after it"`
	}
)

var answerEvents = []streamEvent{{"delta", answerDelta{}}, {"citation", protostar.Citation{}}, {"done", answerDone{}}, {"error", streamError{}}}

// answerResult is a whole answer as JSON.
type answerResult struct{ answer.Result }

func (s *Server) registerAnswers(api huma.API) {
	reg := api.OpenAPI().Components.Schemas
	huma.Register(api, huma.Operation{
		OperationID: "answer", Method: http.MethodPost, Path: "/v1/answers", Tags: []string{"answers"},
		Summary: "Answer a question from the tenant's documents, with citations",
		Description: "Retrieves with hybrid search and answers only from the retrieved chunks; every citation is one of them. " +
			"With `stream: true` the answer is `text/event-stream` with events `delta` ({text}), `citation` (a citation), `done` ({cached}) and `error` ({detail}).",
		Errors:       []int{400, 401, 413, 415, 422, 429},
		MaxBodyBytes: s.maxBodyBytes(),
		Responses: map[string]*huma.Response{"200": {Description: "The answer, or its events with `stream: true`", Content: map[string]*huma.MediaType{
			"application/json":  jsonContent(reg, answerResult{})["application/json"],
			"text/event-stream": {Schema: eventStreamSchema(reg, answerEvents)},
		}}},
	}, func(ctx context.Context, in *answerInput) (*huma.StreamResponse, error) {
		f, err := in.Body.Filter.domain()
		if err == nil {
			err = validQueryText(in.Body.Question)
		}
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		req := answer.Request{TenantID: TenantFrom(ctx), Question: in.Body.Question, TopK: in.Body.TopK, Filter: f}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			if in.Body.Stream {
				s.streamAnswer(hctx, req)
				return
			}
			a, err := s.deps.Answers.Answer(hctx.Context(), req, nil)
			if err != nil {
				s.writeError(hctx, err)
				return
			}
			hctx.SetHeader("Content-Type", "application/json")
			_ = encodeJSON(hctx.BodyWriter(), answerResult{a})
		}}, nil
	})
}

// streamAnswer writes server-sent events. Until the first delta nothing is
// sent, so an early failure is still an ordinary problem answer.
func (s *Server) streamAnswer(hctx huma.Context, req answer.Request) {
	ctx, release, err := s.streams.acquire(hctx.Context(), req.TenantID)
	if err != nil {
		s.writeError(hctx, err)
		return
	}
	defer release() // and ends the answer at once on EndStreams (SIGTERM)
	ev := &eventWriter{hctx: hctx}
	a, err := s.deps.Answers.Answer(ctx, req, func(delta string) error {
		return ev.send("delta", answerDelta{Text: delta})
	})
	if err != nil {
		if !ev.started {
			s.writeError(hctx, err)
			return
		}
		_ = ev.send("error", streamError{Detail: protostar.ErrorMessage(s.logged(hctx.Context(), err))})
		return
	}
	for _, c := range a.Citations {
		if ev.send("citation", c) != nil {
			return
		}
	}
	_ = ev.send("done", answerDone{Cached: a.Cached})
}

// writeError writes err as a problem answer from inside a stream body.
func (s *Server) writeError(hctx huma.Context, err error) {
	err = s.logged(hctx.Context(), err)
	status, h, detail := problemOf(err)
	for k := range h {
		hctx.SetHeader(k, h.Get(k))
	}
	hctx.SetHeader("Content-Type", "application/problem+json")
	hctx.SetStatus(status)
	_ = json.NewEncoder(hctx.BodyWriter()).Encode(map[string]any{
		"title": http.StatusText(status), "status": status, "detail": detail,
	})
}

// logged logs 5xx errors once and returns err.
func (s *Server) logged(ctx context.Context, err error) error {
	_ = s.problem(ctx, err)
	return err
}

// eventWriter writes text/event-stream events, flushing each one.
type eventWriter struct {
	hctx    huma.Context
	started bool
}

// start writes the stream's headers once.
func (e *eventWriter) start() {
	if e.started {
		return
	}
	e.started = true
	e.hctx.SetHeader("Content-Type", "text/event-stream")
	e.hctx.SetHeader("Cache-Control", "no-cache")
	e.hctx.SetHeader("X-Accel-Buffering", "no")
	e.hctx.SetStatus(http.StatusOK)
}

// send writes one event with data as JSON.
func (e *eventWriter) send(event string, data any) error { return e.sendID(event, "", data) }

// sendID writes one event with an id (none if empty) and data as JSON.
func (e *eventWriter) sendID(event, id string, data any) error {
	raw, err := marshalJSON(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", event, err)
	}
	idLine := ""
	if id != "" {
		idLine = "id: " + id + "\n"
	}
	return e.write(event+" event", fmt.Sprintf("%sevent: %s\ndata: %s\n\n", idLine, event, raw))
}

// comment writes an SSE comment line (ignored by clients, keeps the
// connection visibly alive).
func (e *eventWriter) comment(text string) error {
	return e.write("comment", ": "+text+"\n\n")
}

// write starts the stream if need be, writes frame and flushes it.
func (e *eventWriter) write(what, frame string) error {
	e.start()
	w := e.hctx.BodyWriter()
	if _, err := io.WriteString(w, frame); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}
