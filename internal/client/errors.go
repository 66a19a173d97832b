package client

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error is a 4xx or 5xx answer of the API, decoded from its RFC 9457
// problem body. Detail is the message the API chose to show; answers that
// are not problems (a proxy's error page) keep at most a short text.
type Error struct {
	Status int           // the HTTP status code
	Title  string        // e.g. "Not Found"
	Detail string        // e.g. "document not found"
	Type   string        // problem type URI, if any
	Errors []ErrorDetail // field-level validation errors, if any
}

// ErrorDetail is one validation error of a request field.
type ErrorDetail struct {
	Message  string `json:"message"`
	Location string `json:"location,omitempty"` // e.g. "body.top_k"
	Value    any    `json:"value,omitempty"`
}

// Error returns the detail (or title), the validation errors and the
// status, e.g. "document not found (HTTP 404)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(cmp.Or(e.Detail, e.Title, http.StatusText(e.Status), "request failed"))
	for i, d := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if d.Location != "" {
			b.WriteString(d.Location + ": ")
		}
		b.WriteString(d.Message)
	}
	fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true for 404 answers.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// ErrNotFound matches, with errors.Is, every *Error with status 404.
var ErrNotFound = errors.New("not found")

// StatusOf returns the HTTP status of the first *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// maxProblemBytes bounds how much of an error answer is read.
const maxProblemBytes = 64 << 10

// readProblem reads and closes an error answer's body.
func readProblem(resp *http.Response) *Error {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
	return decodeProblem(resp.StatusCode, resp.Header.Get("Content-Type"), raw)
}

// decodeProblem builds the *Error of an answer with the given status,
// content type and body. JSON bodies are read as RFC 9457 problems; a short
// plain-text body becomes the detail; anything else is ignored.
func decodeProblem(status int, contentType string, body []byte) *Error {
	e := &Error{Status: status}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/problem+json" || mt == "application/json" || (mt == "" && json.Valid(body)):
		var p struct {
			Type   string        `json:"type"`
			Title  string        `json:"title"`
			Detail string        `json:"detail"`
			Errors []ErrorDetail `json:"errors"`
		}
		if json.Unmarshal(body, &p) == nil {
			e.Type, e.Title, e.Detail, e.Errors = p.Type, p.Title, p.Detail, p.Errors
		}
	case mt == "text/plain":
		e.Detail = oneLine(string(body), 200)
	}
	return e
}

// oneLine collapses white space and cuts s to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// retryable reports whether waiting and trying again may succeed: network
// failures, broken streams, 429 and 502–504 answers.
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
