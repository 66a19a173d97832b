package s3

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

// newStore returns a Store on the stack's MinIO with a bucket of its own
// that is not created yet; the bucket and everything in it is removed when
// the test ends. mutate, if not nil, adjusts the config first.
func newStore(t *testing.T, mutate func(*Config)) *Store {
	t.Helper()
	env := testenv.NewS3(t)
	cfg := Config{
		Endpoint:     env.Endpoint,
		AccessKey:    env.AccessKey,
		SecretKey:    env.SecretKey,
		Bucket:       env.Bucket,
		CreateBucket: true,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(testLogger(t), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { removeBucket(t, env) })
	return s
}

// setup returns a Store on the stack's MinIO whose fresh bucket exists.
func setup(t *testing.T) *Store {
	t.Helper()
	s := newStore(t, nil)
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Fatalf("EnsureBucket: %v", err)
	}
	return s
}

// removeBucket deletes the test's bucket with all its objects and
// unfinished uploads, using the stack's credentials (the Store under test
// may have been given wrong ones on purpose).
func removeBucket(t *testing.T, env testenv.S3) {
	t.Helper()
	admin, err := New(slog.New(slog.DiscardHandler), Config{
		Endpoint: env.Endpoint, AccessKey: env.AccessKey, SecretKey: env.SecretKey, Bucket: env.Bucket,
	})
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = admin.client.RemoveBucketWithOptions(ctx, env.Bucket, minio.RemoveBucketOptions{ForceDelete: true})
	if err != nil && s3Code(err) != minio.NoSuchBucket {
		t.Errorf("cleanup: remove bucket %s: %v", env.Bucket, err)
	}
}

// unreachableStore returns a Store whose endpoint refuses connections. It
// needs no stack.
func unreachableStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(testLogger(t), Config{
		Endpoint: "127.0.0.1:1", AccessKey: "nobody", SecretKey: "nothing-here", Bucket: "unreachable", CreateBucket: true,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	valid := Config{Endpoint: "127.0.0.1:9000", AccessKey: "access", SecretKey: "secret", Bucket: "protostar"}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; empty means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"valid with tls and region", func(c *Config) { c.UseTLS, c.Region = true, "eu-central-1" }, ""},
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "PROTOSTAR_S3_ENDPOINT is empty"},
		{"endpoint with scheme", func(c *Config) { c.Endpoint = "http://127.0.0.1:9000" }, "PROTOSTAR_S3_ENDPOINT"},
		{"endpoint with path", func(c *Config) { c.Endpoint = "127.0.0.1:9000/minio" }, "PROTOSTAR_S3_ENDPOINT"},
		{"no access key", func(c *Config) { c.AccessKey = "" }, "PROTOSTAR_S3_ACCESS_KEY is empty"},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, "PROTOSTAR_S3_SECRET_KEY is empty"},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "PROTOSTAR_S3_BUCKET is empty"},
		{"invalid bucket", func(c *Config) { c.Bucket = "Not_A_Bucket" }, "PROTOSTAR_S3_BUCKET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.mutate(&cfg)
			_, err := New(slog.New(slog.DiscardHandler), cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}

	t.Run("reports every problem", func(t *testing.T) {
		t.Parallel()
		_, err := New(slog.New(slog.DiscardHandler), Config{})
		for _, name := range []string{"ENDPOINT", "ACCESS_KEY", "SECRET_KEY", "BUCKET"} {
			if err == nil || !strings.Contains(err.Error(), "PROTOSTAR_S3_"+name) {
				t.Errorf("New(Config{}) error = %v, want it to name PROTOSTAR_S3_%s", err, name)
			}
		}
	})
}

func TestEnsureBucket(t *testing.T) {
	t.Parallel()

	t.Run("creates and is idempotent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		ctx := t.Context()
		if err := s.Ping(ctx); protostar.ErrorCode(err) != protostar.EINVALID {
			t.Fatalf("Ping before EnsureBucket = %v, want EINVALID for the missing bucket", err)
		}
		for i := range 2 {
			if err := s.EnsureBucket(ctx); err != nil {
				t.Fatalf("EnsureBucket call %d: %v", i+1, err)
			}
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if _, err := s.Put(ctx, "probe", strings.NewReader("x"), 1, ""); err != nil {
			t.Fatalf("Put into the created bucket: %v", err)
		}
	})

	t.Run("tolerates concurrent creation", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, nil)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { errs[i] = s.EnsureBucket(t.Context()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("EnsureBucket %d: %v", i, err)
			}
		}
	})

	t.Run("missing bucket without CreateBucket", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, func(c *Config) { c.CreateBucket = false })
		err := s.EnsureBucket(t.Context())
		if protostar.ErrorCode(err) != protostar.EINVALID || !strings.Contains(err.Error(), s.bucket) {
			t.Fatalf("EnsureBucket = %v, want EINVALID naming bucket %s", err, s.bucket)
		}
		if exists, err := s.client.BucketExists(t.Context(), s.bucket); err != nil || exists {
			t.Fatalf("BucketExists = %v, %v; want the bucket left uncreated", exists, err)
		}
	})
}

func TestWrongCredentialsAreInvalid(t *testing.T) {
	t.Parallel()
	s := setup(t)
	bad, err := New(testLogger(t), Config{
		Endpoint: testenv.Env(t, "PROTOSTAR_S3_ENDPOINT"), AccessKey: "protostar", SecretKey: "wrong-secret-key", Bucket: s.bucket,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := t.Context()
	if err := bad.Ping(ctx); protostar.ErrorCode(err) != protostar.EINVALID {
		t.Errorf("Ping with a wrong secret = %v, want EINVALID", err)
	}
	if _, err := bad.Stat(ctx, "any"); protostar.ErrorCode(err) != protostar.EINVALID {
		t.Errorf("Stat with a wrong secret = %v, want EINVALID", err)
	}
	if _, err := bad.Put(ctx, "any", strings.NewReader("x"), 1, ""); protostar.ErrorCode(err) != protostar.EINVALID {
		t.Errorf("Put with a wrong secret = %v, want EINVALID", err)
	}
}

func TestUnreachableStoreFailsFast(t *testing.T) {
	t.Parallel()
	s := unreachableStore(t)
	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{"Open", func(ctx context.Context) error {
			_, _, err := s.Open(ctx, "문서/설계 노트.md")
			return err
		}},
		{"Stat", func(ctx context.Context) error {
			_, err := s.Stat(ctx, "key")
			return err
		}},
		{"Put", func(ctx context.Context) error {
			_, err := s.Put(ctx, "key", strings.NewReader("hello"), 5, "text/plain")
			return err
		}},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, "key") }},
		{"Ping", s.Ping},
		{"EnsureBucket", s.EnsureBucket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The guard is far above the budget: if retries were not
			// bounded, the call would end on this deadline with a context
			// error instead of ErrUnavailable.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := tt.call(ctx)
			elapsed := time.Since(start)
			if !errors.Is(err, protostar.ErrUnavailable) || protostar.ErrorCode(err) != protostar.EUNAVAILABLE {
				t.Fatalf("%s = %v (code %q), want ErrUnavailable", tt.name, err, protostar.ErrorCode(err))
			}
			if elapsed > 3*time.Second {
				t.Errorf("%s took %v to fail, want a few seconds at most", tt.name, elapsed)
			}
			t.Logf("%s failed after %v: %v", tt.name, elapsed.Round(time.Millisecond), err)
		})
	}
}

func TestCancelledContextIsNotUnavailable(t *testing.T) {
	t.Parallel()
	s := unreachableStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Stat(ctx, "key")
	if !errors.Is(err, context.Canceled) || errors.Is(err, protostar.ErrUnavailable) {
		t.Fatalf("Stat with a cancelled context = %v, want context.Canceled and not ErrUnavailable", err)
	}
}
