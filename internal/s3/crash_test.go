package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

// TestReadFailsUnavailableWhenStoreDies kills MinIO while an object is being
// streamed: the next reads must fail with ErrUnavailable, not end early
// with io.EOF, and later calls must fail fast with ErrUnavailable too.
func TestReadFailsUnavailableWhenStoreDies(t *testing.T) {
	t.Parallel()
	m := testenv.NewMinIO(t) // a private one: the stack's must stay up
	env := m.S3()
	s, err := New(testLogger(t), Config{Endpoint: env.Endpoint, AccessKey: env.AccessKey, SecretKey: env.SecretKey,
		Bucket: env.Bucket, CreateBucket: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := t.Context()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket: %v", err)
	}
	// Far more than loopback socket buffers hold, so most of the object is
	// still in MinIO when it dies.
	const size = 48 << 20
	const key = "문서/중간에 끊김.bin"
	if _, err := s.Put(ctx, key, randomReader(9, size), size, ""); err != nil {
		t.Fatalf("Put: %v", err)
	}

	rc, _, err := s.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got, err := io.CopyN(io.Discard, rc, 1<<20)
	if err != nil {
		t.Fatalf("read the first MiB: %v", err)
	}

	m.Kill()

	n, err := io.Copy(io.Discard, rc)
	got += n
	if err == nil {
		t.Fatalf("read all %d of %d bytes after MinIO was killed, want an error", got, size)
	}
	if !errors.Is(err, protostar.ErrUnavailable) {
		t.Fatalf("read after %d bytes = %v (code %q), want ErrUnavailable", got, err, protostar.ErrorCode(err))
	}
	t.Logf("read failed after %d of %d bytes: %v", got, size, err)

	for name, call := range map[string]func(context.Context) error{
		"Stat": func(ctx context.Context) error { _, err := s.Stat(ctx, key); return err },
		"Open": func(ctx context.Context) error { _, _, err := s.Open(ctx, key); return err },
		"Ping": s.Ping,
	} {
		start := time.Now()
		err := call(ctx)
		if !errors.Is(err, protostar.ErrUnavailable) {
			t.Errorf("%s after MinIO died = %v, want ErrUnavailable", name, err)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("%s after MinIO died took %v, want a few seconds at most", name, elapsed)
		}
	}
	if t.Failed() {
		fmt.Fprintf(t.Output(), "minio output:\n%s", m.Tail(40))
	}
}
