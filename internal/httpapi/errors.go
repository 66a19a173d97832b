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
	case protostar.ENOTFOUND:
		return http.StatusNotFound
	case protostar.ECONFLICT:
		return http.StatusConflict
	case protostar.EUNAUTHORIZED:
		return http.StatusUnauthorized
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

// retryAfterSeconds is what 429 and 503 answers ask clients to wait.
const retryAfterSeconds = 1

// problem turns any error into an RFC 9457 problem for huma to write.
// Clients see the domain message only; 5xx causes are logged here and
// nowhere else.
func (s *Server) problem(ctx context.Context, err error) error {
	status := statusOf(err)
	if status >= 500 && !errors.Is(err, context.Canceled) {
		s.logger.ErrorContext(ctx, "request failed", "status", status, "error", err)
	}
	msg := protostar.ErrorMessage(err)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		h := http.Header{}
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		return huma.ErrorWithHeaders(huma.NewError(status, msg), h)
	}
	return huma.NewError(status, msg)
}

// writeDomainProblem writes a client error as a problem answer outside
// huma (routing); 5xx errors go through problem, which logs them.
func writeDomainProblem(w http.ResponseWriter, err error) {
	writeProblem(w, statusOf(err), protostar.ErrorMessage(err))
}

// writeProblem writes a problem+json answer outside huma (auth, limits).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
	})
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
