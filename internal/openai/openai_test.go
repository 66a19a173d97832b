package openai

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar"
)

func TestNormalizeBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"", "https://api.openai.com/v1", false},
		{"https://api.openai.com/v1", "https://api.openai.com/v1", false},
		{"https://api.openai.com/v1/", "https://api.openai.com/v1", false},
		{" http://127.0.0.1:11434 ", "http://127.0.0.1:11434/v1", false},
		{"http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1", false},
		{"https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1", false},
		{"https://generativelanguage.googleapis.com/v1beta/openai/", "https://generativelanguage.googleapis.com/v1beta/openai", false},
		{"http://127.0.0.1:11434/api", "", true},
		{"http://127.0.0.1:11434/v1/embeddings", "", true},
		{"https://api.openai.com/v1/chat/completions", "", true},
		{"127.0.0.1:11434", "", true},
		{"ftp://example.com/v1", "", true},
		{"https://user:secret@example.com/v1", "", true},
		{"https://example.com/v1?x=1", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := normalizeBaseURL(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if protostar.ErrorCode(err) != protostar.EINVALID || strings.Contains(err.Error(), "secret") {
					t.Errorf("err = %v, want EINVALID without credentials", err)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConstructorsValidate(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	ok := Config{EmbedModel: "e", Dimensions: 8, ChatModel: "c"}
	tests := []struct {
		name string
		edit func(*Config)
		new  func(Config) error
	}{
		{"embedder needs a model", func(c *Config) { c.EmbedModel = "" }, embedderErr(logger)},
		{"embedder needs dimensions", func(c *Config) { c.Dimensions = 0 }, embedderErr(logger)},
		{"generator needs a model", func(c *Config) { c.ChatModel = "" }, generatorErr(logger)},
		{"negative batch", func(c *Config) { c.BatchSize = -1 }, embedderErr(logger)},
		{"negative rate", func(c *Config) { c.RequestsPerSecond = -1 }, generatorErr(logger)},
		{"negative attempts", func(c *Config) { c.MaxAttempts = -1 }, generatorErr(logger)},
		{"bad base URL", func(c *Config) { c.BaseURL = "localhost:11434" }, embedderErr(logger)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.edit(&cfg)
			if err := tt.new(cfg); protostar.ErrorCode(err) != protostar.EINVALID {
				t.Errorf("err = %v, want EINVALID", err)
			}
		})
	}
	if err := embedderErr(logger)(ok); err != nil {
		t.Errorf("valid embedder config: %v", err)
	}
	if err := generatorErr(logger)(ok); err != nil {
		t.Errorf("valid generator config: %v", err)
	}
}

func embedderErr(logger *slog.Logger) func(Config) error {
	return func(c Config) error { _, err := NewEmbedder(logger, c); return err }
}

func generatorErr(logger *slog.Logger) func(Config) error {
	return func(c Config) error { _, err := NewGenerator(logger, c); return err }
}

func TestDefaultsAndAccessors(t *testing.T) {
	t.Parallel()
	e, err := NewEmbedder(slog.New(slog.DiscardHandler), Config{EmbedModel: "text-embedding-3-small", Dimensions: 384})
	if err != nil {
		t.Fatal(err)
	}
	c := e.c.cfg
	if c.BaseURL != DefaultBaseURL || c.BatchSize != 64 || c.RequestsPerSecond != 10 || c.MaxAttempts != 5 ||
		c.MaxElapsed != 2*time.Minute || c.Timeout != 60*time.Second {
		t.Errorf("defaults not applied: %v", c)
	}
	if e.Model() != "text-embedding-3-small" || e.Dimensions() != 384 {
		t.Errorf("Model %q Dimensions %d", e.Model(), e.Dimensions())
	}
	g, err := NewGenerator(slog.New(slog.DiscardHandler), Config{ChatModel: "gpt-4o-mini"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Model() != "gpt-4o-mini" || g.PromptVersion() != "v1" {
		t.Errorf("Model %q PromptVersion %q", g.Model(), g.PromptVersion())
	}
}

func TestConfigMasksKey(t *testing.T) {
	t.Parallel()
	c := Config{APIKey: testKey, ChatModel: "m"}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "openai", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), logs.String()} {
		if strings.Contains(s, testKey) {
			t.Errorf("key leaked: %s", s)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		a      attempt
		want   time.Duration
		wantOK bool
	}{
		{"none", attempt{}, 0, false},
		{"seconds", attempt{retryAfter: "7"}, 7 * time.Second, true},
		{"milliseconds win", attempt{retryAfter: "7", retryAfterMS: "250"}, 250 * time.Millisecond, true},
		{"http date", attempt{retryAfter: now.Add(3 * time.Second).Format(http1123)}, 3 * time.Second, true},
		{"date in the past", attempt{retryAfter: now.Add(-time.Minute).Format(http1123)}, 0, true},
		{"garbage", attempt{retryAfter: "soon"}, 0, false},
		{"negative", attempt{retryAfter: "-3"}, 0, false},
		{"huge is capped", attempt{retryAfter: "1e300"}, 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := retryAfter(&tt.a, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("retryAfter = %s, %v; want %s, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
