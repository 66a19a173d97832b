package redis_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/testenv"
)

func TestCache(t *testing.T) {
	t.Parallel()
	rs := testenv.NewRedis(t)
	rc, err := redis.NewClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx := context.Background()
	c := redis.NewCache(slog.New(slog.DiscardHandler), rc, "t:", 300*time.Millisecond)

	if _, ok := c.Get(ctx, "k"); ok {
		t.Fatal("hit on an empty cache")
	}
	c.Set(ctx, "k", []byte("v"))
	if v, ok := c.Get(ctx, "k"); !ok || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	if n, _ := rc.Exists(ctx, "t:k").Result(); n != 1 {
		t.Fatal("key is not stored under the prefix")
	}
	testenv.WaitFor(t, 5*time.Second, "TTL expiry", func() bool { _, ok := c.Get(ctx, "k"); return !ok })

	rs.Kill()
	goredis.SetLogger(redis.SlogLogger{Logger: slog.New(slog.DiscardHandler)})
	start := time.Now()
	c.Set(ctx, "k", []byte("v"))
	if _, ok := c.Get(ctx, "k"); ok {
		t.Fatal("hit while redis is down")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cache calls with redis down took %s", d)
	}
	if err := redis.Ping(ctx, rc); err == nil {
		t.Fatal("Ping succeeded with redis down")
	}
	rs.Restart(t)
	testenv.WaitFor(t, 10*time.Second, "reconnect", func() bool { return redis.Ping(ctx, rc) == nil })
}
