package client

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	"github.com/protostar/protostar"
)

// AnswerRequest is a question. A zero TopK takes the API's default (5).
type AnswerRequest struct {
	Question string                 `json:"question"`
	TopK     int                    `json:"top_k,omitempty"`
	Filter   protostar.SearchFilter `json:"filter,omitzero"`
}

// Answer is a grounded answer. Its text cites passages with markers such
// as [2]; Citations hold the cited chunks in order of first citation.
type Answer struct {
	Answer    string               `json:"answer"`
	Citations []protostar.Citation `json:"citations"`
	Cached    bool                 `json:"cached"`
}

type answerBody struct {
	AnswerRequest
	Stream bool `json:"stream,omitempty"`
}

// Answer answers a question in one JSON answer.
func (c *Client) Answer(ctx context.Context, req AnswerRequest) (Answer, error) {
	var a Answer
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/answers", in: answerBody{AnswerRequest: req}}, &a)
	return a, err
}

// AnswerStream answers a question as a stream of server-sent events. It
// calls onDelta (if not nil) with each piece of text as it arrives, then
// returns the whole answer. An error event, or a stream that ends before its done event, is
// an error (a *StreamError for the former); failures before the stream
// starts are *Error problems as usual.
func (c *Client) AnswerStream(ctx context.Context, req AnswerRequest, onDelta func(string)) (Answer, error) {
	resp, err := c.send(ctx, request{method: http.MethodPost, path: "/v1/answers", in: answerBody{AnswerRequest: req, Stream: true}, accept: "text/event-stream"})
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	a := Answer{Citations: []protostar.Citation{}}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		// An API that does not stream answers with JSON: hand it over whole.
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return Answer{}, fmt.Errorf("decode answer: %w", err)
		}
		if onDelta != nil {
			onDelta(a.Answer)
		}
		return a, nil
	}
	err = readStream(resp.Body, func(ev event) error {
		switch ev.Name {
		case "delta":
			var d struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return fmt.Errorf("decode delta event: %w", err)
			}
			a.Answer += d.Text
			if onDelta != nil {
				onDelta(d.Text)
			}
		case "citation":
			var cit protostar.Citation
			if err := json.Unmarshal(ev.Data, &cit); err != nil {
				return fmt.Errorf("decode citation event: %w", err)
			}
			a.Citations = append(a.Citations, cit)
		case "done":
			var d struct {
				Cached bool `json:"cached"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return fmt.Errorf("decode done event: %w", err)
			}
			a.Cached = d.Cached
			return errStop
		}
		return nil
	})
	if err != nil {
		return a, fmt.Errorf("answer stream: %w", err)
	}
	return a, nil
}
