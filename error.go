package protostar

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Error codes. They are transport-neutral; internal/httpapi maps them to
// HTTP statuses in exactly one place.
const (
	ECONFLICT      = "conflict"      // state conflict, e.g. a duplicate
	EINTERNAL      = "internal"      // a bug or an unexpected failure
	EINVALID       = "invalid"       // the input is wrong and retrying will not help
	ENOTFOUND      = "not_found"     // the entity does not exist for this tenant
	EUNAUTHORIZED  = "unauthorized"  // missing or unknown credentials
	EFORBIDDEN     = "forbidden"     // the credentials are valid but may not do this
	EUNAVAILABLE   = "unavailable"   // a dependency is down; retrying later may help
	ETOOLARGE      = "too_large"     // the input exceeds a configured limit
	ERATELIMITED   = "rate_limited"  // the caller exceeded its rate or job limit
	EUNPROCESSABLE = "unprocessable" // a valid request whose content cannot be processed (e.g. a content filter refused it)
	EUNSUPPORTED   = "unsupported"   // the request's media type is not one the operation accepts
)

// Error is the domain error. Code decides how callers react (status code,
// retry or not); Message is safe to show to API clients; Err keeps the cause
// for logs and errors.Is/As.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		return e.Message + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Message
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted, client-safe
// message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code and message that keeps err as its cause.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL when there is none. A nil error has no code.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, or a generic text for internal errors so details never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "internal error"
}

// IsPermanent reports whether retrying the operation that returned err can
// never succeed (bad input, missing entity). Workers use it to fail a job at
// once instead of spending retries.
func IsPermanent(err error) bool {
	switch ErrorCode(err) {
	case EINVALID, ENOTFOUND, EUNPROCESSABLE, EUNSUPPORTED, ETOOLARGE, EUNAUTHORIZED:
		return true
	}
	return false
}

// Sentinel errors that adapters wrap so callers can use errors.Is.
var (
	// ErrNotFound is wrapped by every adapter's not-found error.
	ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}
	// ErrUnavailable is wrapped when a dependency cannot be reached.
	ErrUnavailable = &Error{Code: EUNAVAILABLE, Message: "dependency unavailable"}
)

// Is makes errors.Is(err, ErrNotFound) true for any *Error with the same
// code, so adapters can attach their own message and still match.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return (t == ErrNotFound || t == ErrUnavailable) && t.Code == e.Code
}

// Recover, deferred directly (defer protostar.Recover(&err, "op")), turns a
// panic of the goroutine into an internal error in *err that carries the
// panic value and stack for the log, so one bad input or bug fails one job
// or request instead of the process.
func Recover(err *error, op string) {
	if v := recover(); v != nil {
		*err = &Error{Code: EINTERNAL, Err: fmt.Errorf("%s: panic: %v\n%s", op, v, debug.Stack())}
	}
}
