package config

import (
	"bytes"
	"strings"
	"testing"

	"github.com/protostar/protostar"
)

func setValid(t *testing.T) {
	t.Helper()
	t.Setenv("PROTOSTAR_DATABASE_URL", "postgres://u:dbsecret@127.0.0.1:5432/db")
	t.Setenv("PROTOSTAR_REDIS_URL", "redis://:redissecret@127.0.0.1:6379/0")
	t.Setenv("PROTOSTAR_S3_ENDPOINT", "127.0.0.1:9000")
	t.Setenv("PROTOSTAR_S3_ACCESS_KEY", "access")
	t.Setenv("PROTOSTAR_S3_SECRET_KEY", "s3secretvalue")
	t.Setenv("PROTOSTAR_API_KEYS", "acme:acme-key-0123456789,beta:beta-key-0123456789")
}

func TestLoadValid(t *testing.T) {
	setValid(t)
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tenants, _ := c.Tenants()
	if tenants["acme-key-0123456789"] != "acme" || tenants["beta-key-0123456789"] != "beta" {
		t.Fatalf("tenants = %v", tenants)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name, variable, value string
	}{
		{"bad int", "PROTOSTAR_DATABASE_MAX_CONNS", "many"},
		{"bad duration", "PROTOSTAR_CACHE_TTL", "forever"},
		{"bad bool", "PROTOSTAR_S3_USE_TLS", "perhaps"},
		{"bad enum", "PROTOSTAR_LOG_FORMAT", "xml"},
		{"bad url", "PROTOSTAR_DATABASE_URL", "mysql://x"},
		{"short key", "PROTOSTAR_API_KEYS", "acme:short"},
		{"no colon", "PROTOSTAR_API_KEYS", "acme-key-0123456789"},
		{"dot tenant", "PROTOSTAR_API_KEYS", ".:acme-key-0123456789"},
		{"dot-dot tenant", "PROTOSTAR_API_KEYS", "..:acme-key-0123456789"},
		{"dims", "PROTOSTAR_EMBED_DIMENSIONS", "4096"},
		{"provider", "PROTOSTAR_EMBED_PROVIDER", "magic"},
		{"vector index", "PROTOSTAR_VECTOR_INDEX", "pq"},
		{"missing redis", "PROTOSTAR_REDIS_URL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setValid(t)
			t.Setenv(tt.variable, tt.value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Fatalf("Load() error = %v, want one naming %s", err, tt.variable)
			}
		})
	}
}

func TestDumpMasksSecrets(t *testing.T) {
	setValid(t)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"dbsecret", "redissecret", "s3secretvalue", "acme-key-0123456789"} {
		if strings.Contains(out, secret) {
			t.Errorf("dump leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"PROTOSTAR_API_KEYS=acme:****,beta:****", "PROTOSTAR_HTTP_ADDR=127.0.0.1:8080"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
}

func TestParseQueues(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"ingest,summary", []string{"ingest", "summary"}, false},
		{" summary ", []string{"summary"}, false},
		{"ingest,ingest", nil, true},
		{"knowledge", []string{"ingest"}, false}, // the former name
		{"knowledge,ingest", nil, true},
		{"bogus", nil, true},
		{"", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseQueues(tt.in)
		if (err != nil) != tt.wantErr || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("ParseQueues(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEmbedSpecHashModel(t *testing.T) {
	tests := []struct{ provider, model, want string }{
		{"hash", "", "hash-v1"},
		{"hash", "text-embedding-3-small", "hash-v1"}, // PROTOSTAR_EMBED_MODEL's default names an OpenAI model
		{"hash", "hash-v2-dense", "hash-v2-dense"},
		{"openai", "text-embedding-3-large", "text-embedding-3-large"},
	}
	for _, tt := range tests {
		c := Config{EmbedProvider: tt.provider, EmbedModel: tt.model, EmbedDimensions: 384}
		if got := c.EmbedSpec().Model; got != tt.want {
			t.Errorf("EmbedSpec() with %s/%q: model %q, want %q", tt.provider, tt.model, got, tt.want)
		}
	}
}

// TestBM25DefaultsAreTheService: the ranking settings' defaults are
// protostar.DefaultBM25, which the benchmark's raw keyword side ranks
// with, so that its yardstick computes what the service does.
func TestBM25DefaultsAreTheService(t *testing.T) {
	setValid(t)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.BM25(), protostar.DefaultBM25(); got != want {
		t.Fatalf("BM25 defaults = %+v, want protostar.DefaultBM25() = %+v", got, want)
	}
}
