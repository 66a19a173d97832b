package client

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeProblem(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        *Error
		wantMsg     string
	}{
		{
			name: "problem", status: 404, contentType: "application/problem+json",
			body:    `{"title":"Not Found","status":404,"detail":"document not found"}`,
			want:    &Error{Status: 404, Title: "Not Found", Detail: "document not found"},
			wantMsg: "document not found (HTTP 404)",
		},
		{
			name: "validation errors", status: 422, contentType: "application/problem+json; charset=utf-8",
			body: `{"$schema":"x","title":"Unprocessable Entity","status":422,"detail":"validation failed",` +
				`"errors":[{"message":"expected number <= 100","location":"body.top_k","value":500},{"message":"expected string"}]}`,
			want: &Error{Status: 422, Title: "Unprocessable Entity", Detail: "validation failed", Errors: []ErrorDetail{
				{Message: "expected number <= 100", Location: "body.top_k", Value: 500.0}, {Message: "expected string"}}},
			wantMsg: "validation failed: body.top_k: expected number <= 100; expected string (HTTP 422)",
		},
		{
			name: "title only", status: 429, contentType: "application/json",
			body:    `{"title":"Too Many Requests"}`,
			want:    &Error{Status: 429, Title: "Too Many Requests"},
			wantMsg: "Too Many Requests (HTTP 429)",
		},
		{
			name: "json without content type", status: 401, body: `{"detail":"unknown API key"}`,
			want: &Error{Status: 401, Detail: "unknown API key"}, wantMsg: "unknown API key (HTTP 401)",
		},
		{
			name: "plain text", status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n",
			want: &Error{Status: 404, Detail: "404 page not found"}, wantMsg: "404 page not found (HTTP 404)",
		},
		{
			name: "html page", status: 502, contentType: "text/html", body: "<html><body>Bad gateway</body></html>",
			want: &Error{Status: 502}, wantMsg: "Bad Gateway (HTTP 502)",
		},
		{
			name: "broken json", status: 500, contentType: "application/problem+json", body: `{"detail":`,
			want: &Error{Status: 500}, wantMsg: "Internal Server Error (HTTP 500)",
		},
		{
			name: "empty", status: 599, want: &Error{Status: 599}, wantMsg: "request failed (HTTP 599)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeProblem(tt.status, tt.contentType, []byte(tt.body))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeProblem (-want +got):\n%s", diff)
			}
			if got.Error() != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", got.Error(), tt.wantMsg)
			}
		})
	}
}

func TestErrorMatching(t *testing.T) {
	err := fmt.Errorf("get: %w", &Error{Status: http.StatusNotFound})
	if !errors.Is(err, ErrNotFound) {
		t.Error("a wrapped 404 does not match ErrNotFound")
	}
	if errors.Is(&Error{Status: http.StatusGone}, ErrNotFound) {
		t.Error("a 410 matches ErrNotFound")
	}
	if got := StatusOf(err); got != http.StatusNotFound {
		t.Errorf("StatusOf = %d, want 404", got)
	}
	if got := StatusOf(errors.New("boom")); got != 0 {
		t.Errorf("StatusOf(plain error) = %d, want 0", got)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("connection reset"), true},
		{&StreamError{Detail: "job status unavailable"}, true},
		{&Error{Status: 429}, true},
		{&Error{Status: 503}, true},
		{&Error{Status: 500}, false},
		{&Error{Status: 404}, false},
		{fmt.Errorf("wrapped: %w", &Error{Status: 401}), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", time.Second},
		{"0", 0},
		{"3", 3 * time.Second},
		{" 2 ", 2 * time.Second},
		{"-1", time.Second},
		{"86400", maxRetryAfter},
		{"soon", time.Second},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}
