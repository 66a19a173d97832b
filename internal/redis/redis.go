// Package redis is the Redis adapter: client construction with the settings
// protostar relies on, and the TTL cache for summaries and answers. Redis is
// never required for correctness: a cache miss or outage degrades to
// recomputation, and the process keeps running while Redis is down.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/protostar/protostar"
)

// NewClient builds a client for url (redis:// or rediss://) without
// connecting; go-redis reconnects by itself when Redis returns. Failed dials
// are slowed down (see dialThrottle) so that pollers built on the client do
// not spin while Redis is down.
func NewClient(url string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse PROTOSTAR_REDIS_URL: %w", err)
	}
	// Open-source Redis 7 does not know CLIENT MAINT_NOTIFICATIONS; with the
	// default mode every connect logs a handshake error.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 3 * time.Second
	opt.WriteTimeout = 3 * time.Second
	opt.MaxRetries = 1
	// Fail fast while Redis is down: callers degrade (cache miss, outbox)
	// instead of blocking a request for seconds of dial retries.
	opt.DialerRetries = 1
	c := goredis.NewClient(opt)
	c.AddHook(&dialThrottle{delay: 200 * time.Millisecond})
	return c, nil
}

// dialThrottle delays each failed dial by up to delay. asynq's processor
// retries a failed dequeue at once, so without it a Redis outage would turn
// every worker into a busy loop of connection attempts.
type dialThrottle struct {
	delay time.Duration
}

func (h *dialThrottle) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			t := time.NewTimer(h.delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		return conn, err
	}
}

func (h *dialThrottle) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (h *dialThrottle) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// Ping checks Redis, mapping failure to EUNAVAILABLE.
func Ping(ctx context.Context, c goredis.UniversalClient) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "redis unavailable", Err: fmt.Errorf("ping redis: %w", err)}
	}
	return nil
}

// Cache stores serialized values under a key prefix with a TTL. Every
// method treats Redis trouble as a miss: the caller recomputes and the
// failure is logged at most once per interval. Keys of a tenant's data are
// "<kind>:<tenant>:<rest>", so DeleteTenant can find them.
type Cache struct {
	client goredis.UniversalClient
	prefix string
	ttl    time.Duration
	logger *slog.Logger

	mu       sync.Mutex
	lastWarn time.Time
}

// NewCache returns a cache whose keys start with prefix and live for ttl.
func NewCache(logger *slog.Logger, client goredis.UniversalClient, prefix string, ttl time.Duration) *Cache {
	return &Cache{client: client, prefix: prefix, ttl: ttl, logger: logger.With("component", "cache")}
}

// opTimeout bounds one cache call, so an unreachable Redis costs a request
// at most this much before it recomputes.
const opTimeout = 250 * time.Millisecond

// Get returns the value at key and whether it was there.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	v, err := c.client.Get(ctx, c.prefix+key).Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		return nil, false
	case err != nil:
		c.warn("cache get failed", err)
		return nil, false
	}
	return v, true
}

// Set stores value at key with the cache's TTL.
func (c *Cache) Set(ctx context.Context, key string, value []byte) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := c.client.Set(ctx, c.prefix+key, value, c.ttl).Err(); err != nil {
		c.warn("cache set failed", err)
	}
}

// DeleteTenant removes every cached value of a tenant, scanning (never
// KEYS, which blocks Redis) for "<kind>:<tenant>:*". It returns how many it
// removed.
func (c *Cache) DeleteTenant(ctx context.Context, tenantID string) (int, error) {
	iter := c.client.Scan(ctx, 0, c.prefix+"*:"+tenantID+":*", 500).Iterator()
	var batch []string
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.client.Unlink(ctx, batch...).Err()
		n, batch = n+len(batch), batch[:0]
		return err
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			if err := flush(); err != nil {
				return n, fmt.Errorf("delete a tenant's cache: %w", err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, fmt.Errorf("scan a tenant's cache: %w", err)
	}
	if err := flush(); err != nil {
		return n, fmt.Errorf("delete a tenant's cache: %w", err)
	}
	return n, nil
}

func (c *Cache) warn(msg string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.lastWarn) < 10*time.Second {
		return
	}
	c.lastWarn = time.Now()
	c.logger.Warn(msg, "error", err)
}

// SlogLogger adapts slog to go-redis's internal logger, which otherwise
// prints every failed dial to stderr. Install it with goredis.SetLogger.
type SlogLogger struct{ Logger *slog.Logger }

// Printf logs go-redis's message at debug level.
func (l SlogLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Logger.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
