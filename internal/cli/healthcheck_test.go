package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		status int
		code   int
	}{
		{"ready through PROTOSTAR_HTTP_ADDR", map[string]string{"PROTOSTAR_HTTP_ADDR": "127.0.0.1:" + port}, nil, 200, 0},
		{"unspecified host means this machine", map[string]string{"PROTOSTAR_HTTP_ADDR": "0.0.0.0:" + port}, nil, 200, 0},
		{"empty host means this machine", map[string]string{"PROTOSTAR_HTTP_ADDR": ":" + port}, nil, 200, 0},
		{"worker address", map[string]string{"PROTOSTAR_HTTP_ADDR": "127.0.0.1:1", "PROTOSTAR_WORKER_HTTP_ADDR": "[::]:" + port}, []string{"--worker"}, 200, 0},
		{"explicit url", nil, []string{"--url", srv.URL + "/readyz"}, 200, 0},
		{"not ready", map[string]string{"PROTOSTAR_HTTP_ADDR": "127.0.0.1:" + port}, nil, 503, 1},
		{"nothing listening", map[string]string{"PROTOSTAR_HTTP_ADDR": "127.0.0.1:1"}, nil, 200, 1},
		{"worker without an address", map[string]string{"PROTOSTAR_WORKER_HTTP_ADDR": ""}, []string{"--worker"}, 200, 2},
		{"unknown flag", nil, []string{"--nope"}, 200, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PROTOSTAR_HTTP_ADDR", "")
			t.Setenv("PROTOSTAR_WORKER_HTTP_ADDR", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			status = tt.status
			var stdout, stderr bytes.Buffer
			if code := Run(context.Background(), append([]string{"healthcheck"}, tt.args...), nil, &stdout, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d; stdout %q stderr %q", code, tt.code, stdout.String(), stderr.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"version", "--json"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("version --json: exit %d: %s", code, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("version --json printed %q: %v", stdout.String(), err)
	}
	for _, k := range []string{"version", "revision", "go_version", "platform"} {
		if s, _ := got[k].(string); s == "" {
			t.Errorf("version --json: %q missing or empty in %s", k, stdout.String())
		}
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"version"}, nil, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "protostar ") {
		t.Errorf("version: exit %d, printed %q", code, stdout.String())
	}
	if code := Run(context.Background(), []string{"version", "extra"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
}
