package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/protostar/protostar"
)

// Retry-After handling. go-openai turns an error response into *APIError or
// *RequestError and drops the response headers (handleErrorResp), and for
// streams it does not even keep them on the returned reader. Its
// ClientConfig.HTTPClient is an interface (HTTPDoer), so instead of wrapping
// the caller's RoundTripper we wrap Do: every attempt puts a fresh *attempt
// in the request context and doer.Do records the status and the Retry-After
// headers in it. Each attempt owns its slot and Do runs synchronously inside
// the go-openai call, so reading it afterwards is race-free however many
// calls run concurrently, and the caller's *http.Client (transport, proxy,
// timeouts) is used untouched.

type attemptKey struct{}

// attempt is what doer.Do saw of one HTTP attempt.
type attempt struct {
	sent         bool   // Do was called: the request left go-openai
	status       int    // response status, 0 without a response
	retryAfter   string // Retry-After: seconds or an HTTP date
	retryAfterMS string // Retry-After-Ms, OpenAI's millisecond variant
}

// doer is the go-openai HTTPDoer that records each attempt's response
// metadata in the *attempt found in the request context.
type doer struct{ client *http.Client }

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	a, _ := req.Context().Value(attemptKey{}).(*attempt)
	if a != nil {
		a.sent = true
	}
	resp, err := d.client.Do(req)
	if a != nil && resp != nil {
		a.status = resp.StatusCode
		a.retryAfter = resp.Header.Get("Retry-After")
		a.retryAfterMS = resp.Header.Get("Retry-After-Ms")
	}
	return resp, err
}

// transientError is a failure worth retrying. It carries the provider's
// requested delay as a *backoff.RetryAfterError, which backoff.Retry finds
// with errors.As and waits for instead of its own interval.
type transientError struct {
	status     int   // HTTP status, 0 for network and stream failures
	err        error // the cause, redacted
	retryAfter *backoff.RetryAfterError
}

func (e *transientError) Error() string { return e.err.Error() }

func (e *transientError) Unwrap() []error {
	if e.retryAfter != nil {
		return []error{e.err, e.retryAfter}
	}
	return []error{e.err}
}

// redactedError hides the API key should a provider echo it back.
type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

func (c *client) redactErr(err error) error {
	return &redactedError{err: err, text: c.redact(err.Error())}
}

// call runs fn until it succeeds, fails permanently or the retry budget
// (MaxAttempts, MaxElapsed, ctx) runs out. Every attempt first waits for
// the gate (hold, concurrency window, request rate), then gets a context
// carrying a fresh *attempt, and tells the gate how it went. what names
// the operation in errors and logs.
//
// The returned error is ctx's cause when ctx ended; a permanent
// *protostar.Error (EINVALID, ETOOLARGE…) as classified; EUNAVAILABLE
// wrapping the last failure when retries ran out; else fn's own error.
func call[T any](ctx context.Context, c *client, what string, fn func(ctx context.Context) (T, error)) (T, error) {
	attempts := 0
	op := func() (T, error) {
		var zero T
		attempts++
		t, err := c.gate.acquire(ctx)
		if err != nil {
			if ctx.Err() == nil { // the wait alone would outlast ctx's deadline
				err = fmt.Errorf("throttled past the deadline: %w", context.DeadlineExceeded)
			}
			return zero, backoff.Permanent(err)
		}
		a := &attempt{}
		res, err := fn(context.WithValue(ctx, attemptKey{}, a))
		wait, _ := retryAfter(a, time.Now())
		t.done(a.status, wait)
		if err != nil {
			return zero, c.classify(ctx, what, a, err)
		}
		return res, nil
	}
	notify := func(err error, wait time.Duration) {
		var te *transientError
		status := 0
		if errors.As(err, &te) {
			status = te.status
		}
		c.logger.Warn("provider request failed, retrying",
			"op", what, "attempt", attempts, "max_attempts", c.cfg.MaxAttempts,
			"status", status, "retry_in", wait, "error", err)
	}
	res, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(backoff.NewExponentialBackOff()),
		backoff.WithMaxTries(uint(c.cfg.MaxAttempts)),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
		backoff.WithNotify(notify))
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
	var te *transientError
	if errors.As(err, &te) {
		c.logger.Debug("provider retries exhausted", "op", what, "attempts", attempts, "status", te.status)
		return res, protostar.Wrap(protostar.EUNAVAILABLE, te.err, "%s: provider unavailable after %d attempts", what, attempts)
	}
	var pe *backoff.PermanentError // MaxTries is checked before unwrapping
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var de *protostar.Error
	if errors.As(err, &de) {
		return res, err
	}
	return res, fmt.Errorf("%s: %w", what, err)
}

// classify decides whether err, returned by one attempt, is worth another.
// It returns either a *transientError or a backoff.Permanent error.
func (c *client) classify(ctx context.Context, what string, a *attempt, err error) error {
	if ctx.Err() != nil {
		return backoff.Permanent(context.Cause(ctx))
	}
	var pe *backoff.PermanentError
	if errors.As(err, &pe) {
		return err // fn already decided
	}
	status := statusOf(err)
	switch {
	case status == 0 && !a.sent:
		// go-openai refused the request itself (unsupported model for the
		// endpoint, invalid parameters): the same request fails again.
		return backoff.Permanent(protostar.Wrap(protostar.EINVALID, c.redactErr(err), "%s: request rejected before sending", what))
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout,
		status == http.StatusConflict, status >= 500:
		te := &transientError{status: status, err: c.redactErr(err)}
		if d, ok := retryAfter(a, time.Now()); ok {
			te.retryAfter = &backoff.RetryAfterError{Duration: d}
		}
		return te
	case status >= 400:
		return backoff.Permanent(c.rejected(what, status, err))
	case status > 0:
		return backoff.Permanent(protostar.Wrap(protostar.EINVALID, c.redactErr(err), "%s: unexpected HTTP status %d", what, status))
	default: // network failure, attempt timeout, broken or undecodable body, stream error event
		return &transientError{err: c.redactErr(err)}
	}
}

// rejected is the permanent error for a 4xx response other than 408, 409
// and 429. 401 and 403 become EINVALID, not EUNAUTHORIZED: the provider
// rejected our server's key, not the API client's, and the client must not
// be told its own credentials are wrong.
func (c *client) rejected(what string, status int, err error) error {
	msg := c.redact(providerMessage(err))
	code := protostar.EINVALID
	if status == http.StatusRequestEntityTooLarge {
		code = protostar.ETOOLARGE
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return protostar.Wrap(code, c.redactErr(err), "%s: provider rejected credentials (HTTP %d): %s", what, status, msg)
	}
	return protostar.Wrap(code, c.redactErr(err), "%s: provider rejected the request (HTTP %d): %s", what, status, msg)
}

// statusOf returns the HTTP status of a go-openai error, or 0. An error
// event inside a stream is an *APIError with status 0.
func statusOf(err error) int {
	var re *goopenai.RequestError
	if errors.As(err, &re) && re.HTTPStatusCode > 0 {
		return re.HTTPStatusCode
	}
	var ae *goopenai.APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatusCode
	}
	return 0
}

// providerMessage extracts the provider's own explanation. OpenAI and
// Ollama answer {"error":{"message":…}}, which go-openai decodes into an
// *APIError; bodies of other shapes (older vLLM's top-level "message",
// {"error":"…"}, FastAPI's "detail", HTML from a proxy) arrive as a
// *RequestError holding the raw body.
func providerMessage(err error) string {
	var ae *goopenai.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return clip(ae.Message)
	}
	var re *goopenai.RequestError
	if errors.As(err, &re) {
		return clip(bodyMessage(re.Body, re.HTTPStatusCode))
	}
	return clip(err.Error())
}

func bodyMessage(body []byte, status int) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) == nil {
		var s string
		var o struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			return s
		case json.Unmarshal(v.Error, &o) == nil && o.Message != "":
			return o.Message
		case v.Message != "":
			return v.Message
		case json.Unmarshal(v.Detail, &s) == nil && s != "":
			return s
		case len(v.Detail) > 0:
			return string(v.Detail)
		}
	}
	if t := strings.TrimSpace(string(body)); t != "" {
		return t
	}
	return http.StatusText(status)
}

// clip bounds a provider message so an HTML error page cannot flood an
// error message.
func clip(s string) string {
	const maxLen = 300
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// retryAfter returns the delay the provider asked for: Retry-After-Ms, or
// Retry-After as seconds or an HTTP date. Absurd values are capped at a
// day; the retry budget (MaxElapsed) then gives up at once.
func retryAfter(a *attempt, now time.Time) (time.Duration, bool) {
	const maxDelay = 24 * time.Hour
	seconds := func(s string, unit time.Duration) (time.Duration, bool) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return time.Duration(min(f*float64(unit), float64(maxDelay))), true
	}
	if d, ok := seconds(a.retryAfterMS, time.Millisecond); ok {
		return d, true
	}
	if d, ok := seconds(a.retryAfter, time.Second); ok {
		return d, true
	}
	if t, err := http.ParseTime(strings.TrimSpace(a.retryAfter)); err == nil {
		return min(max(t.Sub(now), 0), maxDelay), true
	}
	return 0, false
}
