package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// MinIO is a private MinIO server process a test can stop and start again
// on the same port and data directory, for tests that take the object store
// away; the stack's shared MinIO must stay up.
type MinIO struct {
	t         testing.TB
	bin       string
	dir       string
	Port      int
	AccessKey string
	SecretKey string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// NewMinIO starts a private MinIO with its data in a temporary directory
// and stops it when the test ends.
func NewMinIO(t testing.TB) *MinIO {
	t.Helper()
	m := &MinIO{t: t, bin: Env(t, "PROTOSTAR_STACK_MINIO_BIN"), dir: t.TempDir(), Port: FreePort(t),
		AccessKey: "faultminio", SecretKey: "faultminio-secret"}
	log, err := os.Create(filepath.Join(m.dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	m.log = log
	m.Start()
	t.Cleanup(func() {
		m.Stop()
		_ = log.Close()
	})
	return m
}

// Endpoint is the host:port of the server.
func (m *MinIO) Endpoint() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// S3 returns settings for this server with a fresh bucket name.
func (m *MinIO) S3() S3 {
	return S3{Endpoint: m.Endpoint(), AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: Name("fault-")}
}

// Start starts the server (again) on the same port and data directory and
// waits until it reports itself live.
func (m *MinIO) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(m.bin, "server", filepath.Join(m.dir, "data"), "--address", m.Endpoint(),
		"--certs-dir", filepath.Join(m.dir, "certs"), "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start minio: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.cmd, m.done = cmd, done
	deadline := time.Now().Add(60 * time.Second)
	for !m.live() {
		select {
		case <-done:
			m.cmd = nil
			m.t.Fatalf("minio exited during start; see %s", m.log.Name())
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("minio on %s not live after 60s; see %s", m.Endpoint(), m.log.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *MinIO) live() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + m.Endpoint() + "/minio/health/live")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop stops the server as a service manager would: SIGTERM, then SIGKILL
// if it has not exited within 10s. Safe to call when stopped.
func (m *MinIO) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	Terminate(m.cmd.Process, m.done, 10*time.Second)
	m.cmd = nil
}
