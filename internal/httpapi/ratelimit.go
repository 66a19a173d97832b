package httpapi

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/protostar/protostar"
)

// Allow applies to a console request the limits of the key p resolved
// from and of the tenant it acts for, the same buckets as its /v1
// requests: ERATELIMITED, naming the wait, when one is empty.
func (s *Server) Allow(ctx context.Context, tenant string, p Principal) error {
	if wait, what := s.limits.allow(ctx, tenant, p.KeyHash); what != "" {
		return protostar.Errorf(protostar.ERATELIMITED, "rate limit exceeded for this %s; retry in %s", what, wait.Round(time.Second))
	}
	return nil
}

// SharedLimiter keeps rate-limit buckets that every replica shares
// (Redis), so a limit holds however many replicas serve a key.
type SharedLimiter interface {
	Allow(ctx context.Context, bucket string, perSecond float64, burst int) (wait time.Duration, ok bool, err error)
}

// limit is one rate: requests per second and burst; a zero rate is none.
type limit struct {
	perSecond float64
	burst     int
}

// limiters applies the per-key and per-tenant limits, in the shared
// buckets while they answer and in per-process buckets while they don't
// (Redis down), so an outage loosens the limits instead of refusing
// every request.
type limiters struct {
	perKey, perTenant limit
	shared            SharedLimiter // nil: per-process only
	logger            *slog.Logger

	mu       sync.Mutex
	local    map[string]*rate.Limiter
	lastWarn time.Time
}

func newLimiters(logger *slog.Logger, shared SharedLimiter, perKey, perTenant limit) *limiters {
	return &limiters{perKey: perKey, perTenant: perTenant, shared: shared, logger: logger, local: map[string]*rate.Limiter{}}
}

// allow takes a token from the bucket of the key whose SHA-256 is
// keyHash and from the tenant's; when one is empty it says which ("API
// key" or "tenant") and how long until a token.
func (l *limiters) allow(ctx context.Context, tenant string, keyHash []byte) (time.Duration, string) {
	if wait, ok := l.take(ctx, "key:"+hex.EncodeToString(keyHash[:16]), l.perKey); !ok {
		return wait, "API key"
	}
	if tenant != "" && l.perTenant.perSecond > 0 {
		if wait, ok := l.take(ctx, "tenant:"+tenant, l.perTenant); !ok {
			return wait, "tenant"
		}
	}
	return 0, ""
}

func (l *limiters) take(ctx context.Context, bucket string, lim limit) (time.Duration, bool) {
	if lim.perSecond <= 0 {
		return 0, true
	}
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		wait, ok, err := l.shared.Allow(ctx, bucket, lim.perSecond, lim.burst)
		cancel()
		if err == nil {
			return wait, ok
		}
		l.warn(err)
	}
	l.mu.Lock()
	b, ok := l.local[bucket]
	if !ok {
		if len(l.local) >= 100000 { // bound the memory unknown keys could take
			l.local = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(rate.Limit(lim.perSecond), lim.burst)
		l.local[bucket] = b
	}
	l.mu.Unlock()
	res := b.Reserve()
	if delay := res.Delay(); delay > 0 {
		res.Cancel()
		return delay, false
	}
	return 0, true
}

func (l *limiters) warn(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastWarn) < 10*time.Second {
		return
	}
	l.lastWarn = time.Now()
	l.logger.Warn("shared rate limits unavailable; limiting per process meanwhile", "error", err)
}
