package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BuildProtostar builds the protostar binary into dir and returns its
// path. It works from any directory inside the module.
func BuildProtostar(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "protostar")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/protostar/protostar/cmd/protostar")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build protostar (from inside the module?): %w\n%s", err, out)
	}
	return bin, nil
}

// ProtostarEnv is the environment of a protostar process on a slice of the
// stack: the database, Redis and bucket (created by the process), with
// nothing inherited but PATH and HOME. Callers append their own settings;
// a later value of a variable wins.
func ProtostarEnv(dbURL, redisURL string, s3 S3) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"PROTOSTAR_DATABASE_URL=" + dbURL,
		"PROTOSTAR_REDIS_URL=" + redisURL,
		"PROTOSTAR_S3_ENDPOINT=" + s3.Endpoint,
		"PROTOSTAR_S3_ACCESS_KEY=" + s3.AccessKey,
		"PROTOSTAR_S3_SECRET_KEY=" + s3.SecretKey,
		"PROTOSTAR_S3_USE_TLS=" + strconv.FormatBool(s3.TLS),
		"PROTOSTAR_S3_BUCKET=" + s3.Bucket,
		"PROTOSTAR_S3_CREATE_BUCKET=true",
		// A test turns the periodic bucket reconciliation on when it wants
		// one: its jobs would show in every test's job counts.
		"PROTOSTAR_S3_RECONCILE_INTERVAL=0",
		"OTEL_TRACES_EXPORTER=none",
	}
}

// Protostar is a protostar daemon: `protostar serve`, `worker` or `all`.
type Protostar struct {
	*Process
	URL string // its HTTP listener: the API, or a worker's health and metrics
}

// ProtostarSpec describes a protostar daemon process.
type ProtostarSpec struct {
	Binary string   // from BuildProtostar
	Role   string   // serve, worker or all
	Name   string   // for messages and the log file; default Role
	Env    []string // from ProtostarEnv, plus settings
	LogDir string   // where Name.log goes
}

// NewProtostar prepares (does not start) a daemon listening on a free
// port: a worker's /healthz, /readyz and /metrics on
// PROTOSTAR_WORKER_HTTP_ADDR, the others' API on PROTOSTAR_HTTP_ADDR. It is
// ready when /readyz answers status ok, for a worker once its consumers run.
func NewProtostar(s ProtostarSpec) (*Protostar, error) {
	if s.Name == "" {
		s.Name = s.Role
	}
	addrVar := "PROTOSTAR_HTTP_ADDR"
	if s.Role == "worker" {
		addrVar = "PROTOSTAR_WORKER_HTTP_ADDR"
	}
	// A test that must know the address beforehand (a MinIO sending it
	// notifications) names it in Env; otherwise a free port is taken.
	addr := ""
	for _, kv := range s.Env {
		if v, ok := strings.CutPrefix(kv, addrVar+"="); ok {
			addr = v
		}
	}
	if addr == "" {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	url := "http://" + addr
	env := append(append([]string{}, s.Env...), addrVar+"="+addr)
	return &Protostar{URL: url, Process: NewProcess(Command{
		Name: "protostar " + s.Name, Path: s.Binary, Args: []string{s.Role}, Env: env,
		LogPath: filepath.Join(s.LogDir, s.Name+".log"),
		Ready: func(ctx context.Context) (bool, error) {
			return probe(ctx, url+"/readyz", []byte(`"status":"ok"`)), nil
		},
	})}, nil
}

// probe reports whether a GET of url answers 200 within two seconds, with
// a body containing want if want is set.
func probe(ctx context.Context, url string, want []byte) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, want)
}

// Migrate runs `protostar migrate up` with env.
func Migrate(ctx context.Context, binary string, env []string) error {
	cmd := exec.CommandContext(ctx, binary, "migrate", "up")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("protostar migrate up: %w\n%s", err, out)
	}
	return nil
}

// RunWithProtostar is a TestMain body for suites that run the binary: it
// builds protostar into a temporary directory (or, if the environment
// variable override names one, uses that binary, e.g. an older build to
// compare), stores its path in binary, runs the tests and returns their
// exit code.
func RunWithProtostar(m *testing.M, binary *string, override string) int {
	dir, err := os.MkdirTemp("", "protostar-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if prebuilt := os.Getenv(override); override != "" && prebuilt != "" {
		*binary = prebuilt
	} else if *binary, err = BuildProtostar(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
