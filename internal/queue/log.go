package queue

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// slogAdapter routes asynq's logger to slog. While Redis is down asynq's
// loops each log the same error every second or faster; the adapter logs
// a warning or error the first time and then at most once per quiet
// interval, with the number of repeats it held back.
type slogAdapter struct {
	l     *slog.Logger
	quiet time.Duration
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]*repeat
}

type repeat struct {
	last    time.Time // when it was last logged
	skipped int
}

// maxTracked bounds the messages the adapter remembers.
const maxTracked = 256

func newSlogAdapter(l *slog.Logger, quiet time.Duration) *slogAdapter {
	return &slogAdapter{l: l, quiet: quiet, now: time.Now, seen: map[string]*repeat{}}
}

func (a *slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a *slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a *slogAdapter) Warn(args ...any)  { a.log(slog.LevelWarn, fmt.Sprint(args...)) }
func (a *slogAdapter) Error(args ...any) { a.log(slog.LevelError, fmt.Sprint(args...)) }

// Fatal is called by asynq only on unrecoverable start-up errors.
func (a *slogAdapter) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...))
	os.Exit(1)
}

func (a *slogAdapter) log(level slog.Level, msg string) {
	skipped, ok := a.admit(msg)
	if !ok {
		return
	}
	if skipped > 0 {
		a.l.Log(context.Background(), level, msg, "repeated", skipped)
		return
	}
	a.l.Log(context.Background(), level, msg)
}

// admit reports whether msg is to be logged now and how many repeats of it
// were held back since it last was.
func (a *slogAdapter) admit(msg string) (skipped int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	r, seen := a.seen[msg]
	if !seen {
		if len(a.seen) >= maxTracked {
			clear(a.seen)
		}
		a.seen[msg] = &repeat{last: now}
		return 0, true
	}
	if now.Sub(r.last) < a.quiet {
		r.skipped++
		return 0, false
	}
	skipped, r.skipped, r.last = r.skipped, 0, now
	return skipped, true
}
