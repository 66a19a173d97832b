package httpapi

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/protostar/protostar"
)

// Stream limits, defaults of Config.MaxStreamsPerTenant and
// Config.StreamMaxLifetime.
const (
	defaultMaxStreams     = 100
	defaultStreamLifetime = 10 * time.Minute
)

// errStreamsEnded is the cause of a stream's context when the server ends
// every stream (SIGTERM), so shutdown is not held by open streams.
var errStreamsEnded = errors.New("the server is shutting down; reconnect to resume")

// streams bounds the event streams a tenant holds open, and ends them all
// at once when the server shuts down.
type streams struct {
	max      int
	lifetime time.Duration
	ctx      context.Context // canceled with errStreamsEnded by end
	end      context.CancelCauseFunc

	mu   sync.Mutex
	open map[string]int // tenant → open streams
}

func newStreams(max int, lifetime time.Duration) *streams {
	ctx, end := context.WithCancelCause(context.Background())
	return &streams{max: cmp.Or(max, defaultMaxStreams), lifetime: cmp.Or(lifetime, defaultStreamLifetime),
		ctx: ctx, end: end, open: map[string]int{}}
}

// acquire takes one of the tenant's stream slots, or answers ERATELIMITED.
// The returned context ends when the client goes, the stream's lifetime is
// up, or the server ends every stream; release must be called.
func (st *streams) acquire(parent context.Context, tenant string) (context.Context, func(), error) {
	st.mu.Lock()
	if st.open[tenant] >= st.max {
		st.mu.Unlock()
		return nil, nil, protostar.Errorf(protostar.ERATELIMITED,
			"tenant has %d open event streams, the limit is %d; close one or retry later", st.max, st.max)
	}
	st.open[tenant]++
	st.mu.Unlock()
	ctx, cancel := context.WithTimeout(parent, st.lifetime)
	ctx, cancelCause := context.WithCancelCause(ctx)
	stop := context.AfterFunc(st.ctx, func() { cancelCause(context.Cause(st.ctx)) })
	return ctx, func() {
		stop()
		cancelCause(nil)
		cancel()
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.open[tenant]--; st.open[tenant] <= 0 {
			delete(st.open, tenant)
		}
	}, nil
}

// EndStreams ends every open event stream at once and refuses none of the
// later ones (they end at once too); the daemon calls it when shutdown
// starts, so streams do not hold it for the whole shutdown timeout.
func (s *Server) EndStreams() { s.streams.end(errStreamsEnded) }

// AcquireStream takes one of the tenant's event-stream slots for a stream
// served outside /v1 (the console's live pages), under the same limit,
// lifetime and shutdown as the API's: ERATELIMITED when the tenant holds
// too many. The context ends when the client goes, the lifetime is up or
// the server ends every stream; release must be called.
func (s *Server) AcquireStream(ctx context.Context, tenant string) (context.Context, func(), error) {
	return s.streams.acquire(ctx, tenant)
}
