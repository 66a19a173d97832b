package queue

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSlogAdapterHoldsBackRepeats(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	a := newSlogAdapter(slog.New(slog.NewTextHandler(&buf, nil)), 30*time.Second)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }

	for range 10 { // an outage: the same error every second
		a.Error("Failed to write server state data: connection refused")
		now = now.Add(time.Second)
	}
	a.Warn("another message")
	now = now.Add(30 * time.Second)
	a.Error("Failed to write server state data: connection refused")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("logged %d lines, want 3:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "repeated") || !strings.Contains(lines[1], "another message") {
		t.Errorf("first lines = %q", lines[:2])
	}
	if !strings.Contains(lines[2], "repeated=9") {
		t.Errorf("after the quiet interval: %q, want repeated=9", lines[2])
	}
}
