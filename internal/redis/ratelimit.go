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
// so every replica takes from the same bucket: the API's per-key and
// per-tenant limits, and the AI providers' request rate and back-off.
type RateLimiter struct {
	limiter *redis_rate.Limiter
	client  goredis.UniversalClient
	prefix  string
}

// NewRateLimiter returns a limiter whose buckets live under prefix.
func NewRateLimiter(client goredis.UniversalClient, prefix string) *RateLimiter {
	return &RateLimiter{limiter: redis_rate.NewLimiter(client), client: client, prefix: prefix}
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

// holdScript sets KEYS[1] to expire in ARGV[1] ms unless it already
// expires later.
var holdScript = goredis.NewScript(`
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0`)

// Hold makes bucket's takers wait d from now, in every process that asks
// Held: a provider's Retry-After seen by one process is honoured by all. A
// shorter hold never shortens a longer one.
func (l *RateLimiter) Hold(ctx context.Context, bucket string, d time.Duration) error {
	ms := max(d.Milliseconds(), 1)
	if err := holdScript.Run(ctx, l.client, []string{l.prefix + "hold:" + bucket}, ms).Err(); err != nil {
		return fmt.Errorf("hold %s: %w", bucket, err)
	}
	return nil
}

// Held returns how long bucket is still held; 0 when it is not.
func (l *RateLimiter) Held(ctx context.Context, bucket string) (time.Duration, error) {
	d, err := l.client.PTTL(ctx, l.prefix+"hold:"+bucket).Result()
	if err != nil {
		return 0, fmt.Errorf("held %s: %w", bucket, err)
	}
	return max(d, 0), nil
}
