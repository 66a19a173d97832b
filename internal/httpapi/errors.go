package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
)

// statusOf maps a domain error code to its HTTP status. It is the only
// place that does.
func statusOf(err error) int {
	switch protostar.ErrorCode(err) {
	case protostar.EINVALID:
		return http.StatusBadRequest
	case protostar.EUNPROCESSABLE:
		return http.StatusUnprocessableEntity
	case protostar.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case protostar.ENOTFOUND:
		return http.StatusNotFound
	case protostar.ECONFLICT:
		return http.StatusConflict
	case protostar.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case protostar.EFORBIDDEN:
		return http.StatusForbidden
	case protostar.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case protostar.ERATELIMITED:
		return http.StatusTooManyRequests
	case protostar.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Statuses of client mistakes, the same whoever finds the mistake (huma's
// schema validation or this package's decoders):
//   - 400: the request is malformed or a value in it is invalid (syntax,
//     type, range, unknown field or parameter, a bad key or metadata);
//   - 413: it is larger than a configured limit;
//   - 415: its Content-Type is not one the operation accepts;
//   - 422: only for a valid request whose content cannot be processed, such
//     as a question the generator's content filter refuses.
//
// huma answers its schema-validation failures with 422;
// validationIs400 makes them 400 and apiSpec documents it so.
func init() { huma.NewErrorWithContext = validationIs400(huma.NewErrorWithContext) }

// validationIs400 wraps huma's error constructor so that its validation
// failures (422) are 400, as this API's own validation errors are. Only
// huma calls NewErrorWithContext; problem builds this package's errors.
func validationIs400(next func(huma.Context, int, string, ...error) huma.StatusError) func(huma.Context, int, string, ...error) huma.StatusError {
	return func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		return next(ctx, status, msg, errs...)
	}
}

// retryAfterSeconds is what 429 and 503 answers ask clients to wait.
const retryAfterSeconds = 1

// problem turns any error into an RFC 9457 problem for huma to write.
// Clients see the domain message only; 5xx causes are logged here and
// nowhere else.
func (s *Server) problem(ctx context.Context, err error) error {
	status, h, msg := problemOf(err)
	if status >= 500 && !errors.Is(err, context.Canceled) {
		s.logger.ErrorContext(ctx, "request failed", "status", status, "error", err)
	}
	if len(h) > 0 {
		return huma.ErrorWithHeaders(huma.NewError(status, msg), h)
	}
	return huma.NewError(status, msg)
}

// problemOf is the one mapping from an error to its problem answer, for
// huma's errors, plain handlers and event streams alike: the status, the
// headers it needs (Retry-After on 429 and 503) and the detail clients may
// see.
func problemOf(err error) (status int, h http.Header, detail string) {
	status = statusOf(err)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		h = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}}
	}
	return status, h, protostar.ErrorMessage(err)
}

// writeDomainProblem writes a client error as a problem answer outside
// huma (routing, auth, limits); 5xx errors go through problem, which logs
// them. A header the caller set already (a precise Retry-After) is kept.
func writeDomainProblem(w http.ResponseWriter, err error) {
	status, h, detail := problemOf(err)
	for k, v := range h {
		if w.Header().Get(k) == "" {
			w.Header()[k] = v
		}
	}
	writeProblem(w, status, detail)
}

// writeProblem writes a problem+json answer outside huma (auth, limits).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	body := map[string]any{"title": http.StatusText(status), "status": status, "detail": detail}
	if instance := problemInstance(w); instance != "" {
		body["instance"] = instance
	}
	_ = json.NewEncoder(w).Encode(body)
}

// maxExcerpt bounds how much of a client's input an error message quotes.
const maxExcerpt = 64

// excerpt is at most maxExcerpt bytes of input for an error message, cut
// on a rune boundary and marked when cut; callers quote it with %q, which
// escapes it. Errors never echo a whole input back.
func excerpt(s string) string {
	if len(s) <= maxExcerpt {
		return s
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ProblemOf is the status and client-safe detail of err, for answers
// written outside the API (the console's HTML pages), so every error maps
// to its status here and only here.
func ProblemOf(err error) (status int, detail string) {
	status, _, detail = problemOf(err)
	return status, detail
}
