package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPICommand: `protostar openapi` prints the document with no
// configuration at all (nothing to connect to), and takes no arguments.
func TestOpenAPICommand(t *testing.T) {
	t.Setenv("PROTOSTAR_DATABASE_URL", "")
	t.Setenv("PROTOSTAR_REDIS_URL", "")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"prints the document", []string{"openapi"}, 0},
		{"refuses arguments", []string{"openapi", "--yaml"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Run(context.Background(), tt.args, strings.NewReader(""), &out, &errb); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			if tt.code != 0 {
				return
			}
			var doc struct {
				OpenAPI string         `json:"openapi"`
				Paths   map[string]any `json:"paths"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if doc.OpenAPI != "3.1.0" || doc.Paths["/v1/webhooks"] == nil || doc.Paths["/v1/tenants"] == nil {
				t.Errorf("openapi %q with %d paths; want 3.1.0 with the webhook and tenant routes", doc.OpenAPI, len(doc.Paths))
			}
		})
	}
}
