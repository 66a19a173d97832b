package httpapi

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar"
)

// runningStore's job never ends, so its event stream stays open.
type runningStore struct{ fakeStore }

func (runningStore) Job(context.Context, string, string) (protostar.Job, error) {
	return protostar.Job{ID: knownJob, Status: protostar.JobRunning, Progress: protostar.Progress{Done: 1, Total: 3}}, nil
}

func streamServer(t *testing.T, lifetime time.Duration) (*Server, *httptest.Server) {
	t.Helper()
	srv := New(slog.New(slog.DiscardHandler), Deps{Store: runningStore{fakeStore{&calls{}}}}, Config{
		Keys: map[string]string{testKey: "acme"}, RateLimit: 1e9, RateBurst: 1 << 30,
		MaxStreamsPerTenant: 2, StreamMaxLifetime: lifetime,
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

func openStream(t *testing.T, ts *httptest.Server, lastID string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/jobs/"+knownJob+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readUntilEnd reads a stream to its end and returns its lines, failing if
// it is still open after within.
func readUntilEnd(t *testing.T, resp *http.Response, within time.Duration) []string {
	t.Helper()
	lines := make(chan []string, 1)
	go func() {
		var out []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		lines <- out
	}()
	select {
	case l := <-lines:
		return l
	case <-time.After(within):
		t.Fatalf("stream still open after %s", within)
		return nil
	}
}

// TestJobStreamLimits: event streams used to have no cap, no lifetime and
// to hold shutdown open. Now a tenant holds at most MaxStreamsPerTenant
// (429 above), each ends after its lifetime and at once on EndStreams, and
// every event has an id a client resumes from.
func TestJobStreamLimits(t *testing.T) {
	t.Parallel()
	t.Run("cap and shutdown", func(t *testing.T) {
		t.Parallel()
		srv, ts := streamServer(t, time.Hour)
		a, b := openStream(t, ts, ""), openStream(t, ts, "")
		if a.StatusCode != 200 || b.StatusCode != 200 {
			t.Fatalf("streams within the cap: %d %d", a.StatusCode, b.StatusCode)
		}
		if c := openStream(t, ts, ""); c.StatusCode != http.StatusTooManyRequests || c.Header.Get("Retry-After") == "" {
			t.Fatalf("stream over the cap: %d, Retry-After %q; want 429 with Retry-After", c.StatusCode, c.Header.Get("Retry-After"))
		}
		srv.EndStreams()
		for _, r := range []*http.Response{a, b} {
			lines := readUntilEnd(t, r, 2*time.Second)
			if !strings.Contains(strings.Join(lines, "\n"), "shutting down") {
				t.Errorf("ended stream says %q, want the reason", lines)
			}
		}
	})
	t.Run("lifetime and resume", func(t *testing.T) {
		t.Parallel()
		_, ts := streamServer(t, 300*time.Millisecond)
		lines := readUntilEnd(t, openStream(t, ts, ""), 3*time.Second)
		var id string
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "id: "); ok {
				id = v
			}
		}
		if id == "" || !strings.Contains(strings.Join(lines, "\n"), "maximum lifetime") {
			t.Fatalf("first stream = %q, want an event id and the end after its lifetime", lines)
		}
		again := readUntilEnd(t, openStream(t, ts, id), 3*time.Second)
		if strings.Contains(strings.Join(again, "\n"), "event: progress") {
			t.Fatalf("resumed with Last-Event-ID %s, yet the same state was sent again: %q", id, again)
		}
	})
}
