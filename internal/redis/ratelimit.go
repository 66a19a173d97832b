package redis

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"
)

// RateLimiter keeps GCRA rate-limit buckets in Redis (go-redis/redis_rate),
// so every replica takes from the same bucket.
type RateLimiter struct {
	limiter *redis_rate.Limiter
	prefix  string
}

// NewRateLimiter returns a limiter whose buckets live under prefix.
func NewRateLimiter(client goredis.UniversalClient, prefix string) *RateLimiter {
	return &RateLimiter{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow takes one request from bucket, which refills at perSecond up to
// burst; when it is empty it says how long until a request may pass.
func (l *RateLimiter) Allow(ctx context.Context, bucket string, perSecond float64, burst int) (time.Duration, bool, error) {
	// redis_rate counts whole requests per period: a minute keeps
	// fractional rates (0.5/s) exact enough.
	lim := redis_rate.Limit{Rate: max(1, int(math.Round(perSecond*60))), Burst: max(1, burst), Period: time.Minute}
	res, err := l.limiter.Allow(ctx, l.prefix+bucket, lim)
	if err != nil {
		return 0, false, fmt.Errorf("rate limit %s: %w", bucket, err)
	}
	return res.RetryAfter, res.Allowed > 0, nil
}
