package deploy

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/protostar/protostar/internal/config"
)

// composeFile is the part of a compose file the test reads.
type composeFile struct {
	Env      map[string]string         `yaml:"x-protostar-env"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image           string            `yaml:"image"`
	Command         []string          `yaml:"command"`
	Environment     map[string]string `yaml:"environment"`
	Restart         string            `yaml:"restart"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	DependsOn       map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
	Ports []string `yaml:"ports"`
}

func setupCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	for _, name := range []string{"postgres", "redis", "minio", "migrate", "api", "worker"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("compose.yaml has no %s service", name)
		}
	}
	return c
}

// interpolation is one ${NAME...} of a compose value.
var interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}`)

// resolve interpolates a compose value as compose would with an empty
// environment, except that required variables (${X:?msg}) get stand-in,
// valid values, as an operator's .env would give them.
func resolve(v string) string {
	return interpolation.ReplaceAllStringFunc(v, func(m string) string {
		g := interpolation.FindStringSubmatch(m)
		switch {
		case strings.HasSuffix(g[2], "?"):
			return "stand-in-" + strings.ToLower(g[1]) // ≥ 16 characters, as secrets must be
		case strings.HasSuffix(g[2], "-"):
			return g[3]
		}
		return ""
	})
}

// TestComposeSettings: every PROTOSTAR_* variable the compose file sets
// exists in config.Config, every setting of the configuration (and of the
// README's table) is listed with the configuration's own default, secrets
// have no literal value, and what the api and workers get is a valid
// configuration.
func TestComposeSettings(t *testing.T) {
	c := setupCompose(t)
	vars := configVars(t)
	for name, svc := range c.Services {
		for k := range svc.Environment {
			if _, ok := vars[k]; strings.HasPrefix(k, "PROTOSTAR_") && !ok {
				t.Errorf("service %s sets %s, which config.Config does not have", name, k)
			}
		}
	}
	for _, k := range readmeVars(t) {
		if _, ok := vars[k]; !ok {
			t.Errorf("README's configuration table lists %s, which config.Config does not have", k)
		}
	}
	// Where compose deliberately differs from the built-in default.
	differs := map[string]string{
		"PROTOSTAR_S3_CREATE_BUCKET": "true",      // a fresh MinIO has no bucket
		"PROTOSTAR_S3_WATCH":         "true",      // MinIO's webhook target is configured
		"PROTOSTAR_S3_REGION":        "us-east-1", // the README's documented default (empty means us-east-1)
	}
	for k, v := range vars {
		val, ok := c.Env[k]
		switch {
		case !ok:
			t.Errorf("x-protostar-env does not list %s (every setting is listed, named as in the README)", k)
		case v.Secret == "url":
			// A URL may be spelled out, but not its password.
			if u, err := url.Parse(interpolation.ReplaceAllString(val, "")); err != nil || func() bool { p, _ := u.User.Password(); return p != "" }() {
				t.Errorf("%s = %q: its password must come from the environment, never a literal", k, val)
			}
		case v.Secret != "":
			if m := interpolation.FindStringSubmatch(val); m == nil || m[0] != val || (m[2] != ":?" && m[3] != "") {
				t.Errorf("%s = %q: a secret must come from the environment (${X:?...} or empty), never a literal", k, val)
			}
		default:
			m := interpolation.FindStringSubmatch(val)
			if m == nil || m[1] != k || m[2] != ":-" {
				continue // set by the compose file itself (addresses, URLs)
			}
			want := v.Default
			if d, ok := differs[k]; ok {
				want = d
			}
			if m[3] != want {
				t.Errorf("%s defaults to %q in compose.yaml, but config.Config's default is %q", k, m[3], want)
			}
		}
	}
	for _, name := range []string{"migrate", "api", "worker"} {
		t.Run(name, func(t *testing.T) {
			for k, v := range c.Services[name].Environment {
				t.Setenv(k, resolve(v))
			}
			if _, err := config.Load(); err != nil {
				t.Errorf("the %s service's environment is not a valid configuration: %v", name, err)
			}
		})
	}
}

// readmeVars returns the PROTOSTAR_* variables of the README's
// configuration table.
func readmeVars(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	name := regexp.MustCompile("`(PROTOSTAR_[A-Z0-9_]+)`")
	for _, line := range strings.Split(string(raw), "\n") {
		if cell, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |"); ok && strings.HasPrefix(line, "| `") {
			for _, m := range name.FindAllStringSubmatch(cell, -1) {
				out = append(out, m[1])
			}
		}
	}
	if len(out) < 50 {
		t.Fatalf("found only %d variables in README's configuration table", len(out))
	}
	return out
}

// TestComposeWiring: the migration runs once Postgres is healthy, the api
// and workers start after it succeeded and their dependencies are healthy,
// each has a /readyz health check the image can run, there are two workers,
// and stopping waits longer than the shutdown budget.
func TestComposeWiring(t *testing.T) {
	c := setupCompose(t)
	tests := []struct {
		service   string
		command   []string
		dependsOn map[string]string
		probe     []string
	}{
		{"migrate", []string{"migrate", "up"}, map[string]string{"postgres": "service_healthy"}, nil},
		{"api", []string{"serve"}, map[string]string{"migrate": "service_completed_successfully",
			"postgres": "service_healthy", "redis": "service_healthy", "minio": "service_healthy"},
			[]string{"CMD", entrypoint, "healthcheck"}},
		{"worker", []string{"worker"}, map[string]string{"migrate": "service_completed_successfully",
			"postgres": "service_healthy", "redis": "service_healthy", "minio": "service_healthy"},
			[]string{"CMD", entrypoint, "healthcheck", "--worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := c.Services[tt.service]
			if !slices.Equal(s.Command, tt.command) {
				t.Errorf("command %q, want %q", s.Command, tt.command)
			}
			for dep, cond := range tt.dependsOn {
				if got := s.DependsOn[dep].Condition; got != cond {
					t.Errorf("depends on %s with condition %q, want %q", dep, got, cond)
				}
				if cond == "service_healthy" && len(c.Services[dep].Healthcheck.Test) == 0 {
					t.Errorf("waits for %s to be healthy, but %s has no health check", dep, dep)
				}
			}
			if !slices.Equal(s.Healthcheck.Test, tt.probe) {
				t.Errorf("health check %q, want %q", s.Healthcheck.Test, tt.probe)
			}
			if !strings.Contains(s.Image, "protostar") {
				t.Errorf("image %q is not protostar's", s.Image)
			}
			shutdown, err := time.ParseDuration(resolve(s.Environment["PROTOSTAR_SHUTDOWN_TIMEOUT"]))
			if err != nil {
				t.Fatalf("PROTOSTAR_SHUTDOWN_TIMEOUT: %v", err)
			}
			if grace, err := time.ParseDuration(s.StopGracePeriod); err != nil || grace <= shutdown {
				t.Errorf("stop_grace_period %q must be above PROTOSTAR_SHUTDOWN_TIMEOUT (%s)", s.StopGracePeriod, shutdown)
			}
		})
	}
	if got := c.Services["migrate"].Restart; got != "no" {
		t.Errorf("migrate restarts %q: a one-shot must not restart", got)
	}
	if r := c.Services["worker"].Deploy.Replicas; r < 2 {
		t.Errorf("worker replicas = %d, want 2 by default", r)
	}
	if got := c.Services["worker"].Environment["PROTOSTAR_WORKER_HTTP_ADDR"]; !strings.HasPrefix(got, "0.0.0.0:") {
		t.Errorf("worker PROTOSTAR_WORKER_HTTP_ADDR = %q: its health check needs the worker's listener", got)
	}
	apiAddr := c.Services["api"].Environment["PROTOSTAR_HTTP_ADDR"]
	if _, port, _ := strings.Cut(apiAddr, ":"); !slices.ContainsFunc(c.Services["api"].Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
		t.Errorf("api listens on %q but publishes %q", apiAddr, c.Services["api"].Ports)
	}
}

// TestComposeStack: Postgres has pgvector, Redis keeps its data (AOF) and
// never evicts queue keys, and MinIO posts bucket events to the api with
// the token protostar checks, on the target protostar subscribes.
func TestComposeStack(t *testing.T) {
	c := setupCompose(t)
	if img := c.Services["postgres"].Image; !strings.HasPrefix(img, "pgvector/pgvector:") {
		t.Errorf("postgres image %q, want pgvector/pgvector", img)
	}
	redis := strings.Join(c.Services["redis"].Command, " ")
	for _, want := range []string{"--appendonly yes", "--maxmemory-policy noeviction"} {
		if !strings.Contains(redis, want) {
			t.Errorf("redis command %q lacks %q", redis, want)
		}
	}
	minio, api := c.Services["minio"].Environment, c.Services["api"].Environment
	arn := resolve(api["PROTOSTAR_S3_NOTIFY_ARN"]) // arn:minio:sqs::<ID>:webhook
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[5] != "webhook" {
		t.Fatalf("PROTOSTAR_S3_NOTIFY_ARN = %q, want arn:minio:sqs::ID:webhook", arn)
	}
	id := parts[4]
	_, port, _ := strings.Cut(api["PROTOSTAR_HTTP_ADDR"], ":")
	want := map[string]string{
		"MINIO_NOTIFY_WEBHOOK_ENABLE_" + id:   "on",
		"MINIO_NOTIFY_WEBHOOK_ENDPOINT_" + id: "http://api:" + port + "/v1/s3-events",
	}
	for k, v := range want {
		if minio[k] != v {
			t.Errorf("minio %s = %q, want %q", k, minio[k], v)
		}
	}
	tokenVar := func(v string) string {
		if m := interpolation.FindStringSubmatch(v); m != nil {
			return m[1]
		}
		return v
	}
	if got, want := tokenVar(minio["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_"+id]), tokenVar(api["PROTOSTAR_S3_EVENTS_TOKEN"]); got == "" || got != want {
		t.Errorf("MinIO sends the token from %q, protostar checks it from %q", got, want)
	}
	if minio["MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_"+id] == "" {
		t.Errorf("minio has no queue directory: events are lost while the api is down")
	}
}
