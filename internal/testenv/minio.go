package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// MinIO is a private MinIO server process a test can stop and start again
// on the same port and data directory, for tests that take the object store
// away; the stack's shared MinIO must stay up.
type MinIO struct {
	*Process
	t         testing.TB
	Port      int
	AccessKey string
	SecretKey string
}

// NewMinIO starts a private MinIO with its data in a temporary directory
// and stops it when the test ends; env adds server settings (NotifyEnv).
func NewMinIO(t testing.TB, env ...string) *MinIO {
	t.Helper()
	dir := t.TempDir()
	m := &MinIO{t: t, Port: Port(t), AccessKey: "faultminio", SecretKey: "faultminio-secret"}
	m.Process = NewProcess(Command{
		Name: "minio", Path: Env(t, "PROTOSTAR_STACK_MINIO_BIN"), LogPath: filepath.Join(dir, "minio.log"),
		Args: []string{"server", filepath.Join(dir, "data"), "--address", m.Endpoint(),
			"--certs-dir", filepath.Join(dir, "certs"), "--quiet"},
		Env: append([]string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + os.Getenv("HOME"),
			"MINIO_ROOT_USER=" + m.AccessKey,
			"MINIO_ROOT_PASSWORD=" + m.SecretKey,
			"MINIO_BROWSER=off",
			"MINIO_UPDATE=off",
		}, env...),
		Ready: func(ctx context.Context) (bool, error) {
			return probe(ctx, "http://"+m.Endpoint()+"/minio/health/live", nil), nil
		},
	})
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Endpoint is the host:port of the server.
func (m *MinIO) Endpoint() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// S3 returns settings for this server with a fresh bucket name.
func (m *MinIO) S3() S3 {
	return S3{Endpoint: m.Endpoint(), AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: Name("fault-")}
}

// Start starts the server (again) and waits until it reports itself live,
// failing the test otherwise.
func (m *MinIO) Start() {
	m.t.Helper()
	if err := m.StartReady(context.Background(), 60*time.Second); err != nil {
		m.t.Fatal(err)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s); safe to call
// when stopped.
func (m *MinIO) Stop() { _, _ = m.Process.Stop(10 * time.Second) }

// NotifyEnv configures a MinIO server's webhook notification target
// PROTOSTAR (arn:minio:sqs::PROTOSTAR:webhook) as scripts/stack.sh does:
// events go to endpoint with the bearer token, and wait in queueDir while
// it is down.
func NotifyEnv(endpoint, token, queueDir string) []string {
	return []string{
		"MINIO_NOTIFY_WEBHOOK_ENABLE_PROTOSTAR=on",
		"MINIO_NOTIFY_WEBHOOK_ENDPOINT_PROTOSTAR=" + endpoint,
		"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PROTOSTAR=" + token,
		"MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_PROTOSTAR=" + queueDir,
	}
}
