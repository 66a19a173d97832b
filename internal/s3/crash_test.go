package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/testenv"
)

// privateMinIO is a MinIO server process owned by one test, for tests that
// kill the store; the stack's shared MinIO must stay up.
type privateMinIO struct {
	cmd    *exec.Cmd
	output *bytes.Buffer
	cfg    Config
}

// startMinIO starts the stack's MinIO binary on a free loopback port with
// its data in a temporary directory, waits until it is live, and stops it
// when the test ends.
func startMinIO(t *testing.T) *privateMinIO {
	t.Helper()
	bin := testenv.Env(t, "PROTOSTAR_STACK_MINIO_BIN")
	addr := freeAddr(t)
	dir := t.TempDir()
	m := &privateMinIO{
		output: new(bytes.Buffer),
		cfg: Config{
			Endpoint: addr, AccessKey: "crashtest", SecretKey: "crashtest-secret",
			Bucket: testenv.Name("crash-"), CreateBucket: true,
		},
	}
	m.cmd = exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--certs-dir", filepath.Join(dir, "certs"), "--quiet")
	m.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.cfg.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.cfg.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	m.cmd.Stdout, m.cmd.Stderr = m.output, m.output
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(m.kill)

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			m.kill()
			t.Fatalf("minio on %s not live after 60 s; output:\n%s", addr, m.output)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill stops the process with SIGKILL, as a crash would, and reaps it.
func (m *privateMinIO) kill() {
	if m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestReadFailsUnavailableWhenStoreDies kills MinIO while an object is being
// streamed: the next reads must fail with ErrUnavailable, not end early
// with io.EOF, and later calls must fail fast with ErrUnavailable too.
func TestReadFailsUnavailableWhenStoreDies(t *testing.T) {
	t.Parallel()
	m := startMinIO(t)
	s, err := New(testLogger(t), m.cfg)
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

	m.kill()

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
		fmt.Fprintf(t.Output(), "minio output:\n%s", m.output)
	}
}
