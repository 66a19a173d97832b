package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Redis is a private redis-server, configured as production Redis is (AOF
// on, noeviction), that a test can stop and start again on the same port
// and data directory.
type Redis struct {
	*Process
	Port int
	data string // its --dir: the AOF
}

// StartRedis starts a private redis-server (the binary bin) with its data
// and log in dir.
func StartRedis(ctx context.Context, bin, dir string) (*Redis, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "redis")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	r := &Redis{Port: port, data: data, Process: NewProcess(Command{
		Name: "redis", Path: bin, LogPath: filepath.Join(dir, "redis.log"),
		Args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", data,
			"--appendonly", "yes", "--maxmemory-policy", "noeviction", "--save", ""},
		Ready: func(context.Context) (bool, error) { return Listening(port), nil },
	})}
	if err := r.StartReady(ctx, 10*time.Second); err != nil {
		r.Kill()
		return nil, err
	}
	return r, nil
}

// NewRedis starts a private Redis and stops it when the test ends.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	r, err := StartRedis(context.Background(), Env(t, "PROTOSTAR_STACK_REDIS_BIN"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Kill)
	return r
}

// URL is the redis:// URL of logical database 0.
func (r *Redis) URL() string { return r.DBURL(0) }

// DBURL is the redis:// URL of logical database db.
func (r *Redis) DBURL(db int) string { return fmt.Sprintf("redis://127.0.0.1:%d/%d", r.Port, db) }

// Restart starts the server again after Kill, failing the test on error.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	if err := r.StartReady(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// RestartEmpty kills the server, deletes its data and starts it again: a
// restart without persistence, or a failover to an empty replica.
func (r *Redis) RestartEmpty(t testing.TB) {
	t.Helper()
	r.Kill()
	if err := os.RemoveAll(r.data); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.data, 0o755); err != nil {
		t.Fatal(err)
	}
	r.Restart(t)
}
