package e2e

import (
	"bufio"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMEndsEventStreams: open job event streams used to hold the
// API's shutdown for the whole PROTOSTAR_SHUTDOWN_TIMEOUT (here 60 s); on
// SIGTERM they now end at once, saying why, and the process exits within
// its short drain.
func TestSIGTERMEndsEventStreams(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve", "PROTOSTAR_SHUTDOWN_TIMEOUT=60s")
	acc := p.mustUpload("streams/a.md", keyA, []byte("# A\n\nText.\n")) // no worker: the job stays queued
	if acc.Job.ID == "" {
		t.Fatalf("upload answered %+v", acc)
	}
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/jobs/"+acc.Job.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+keyA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
		}
		ended <- all.String()
	}()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-ended:
		if !strings.Contains(body, "shutting down") || !strings.Contains(body, "id: ") {
			t.Errorf("stream ended without an event id or the reason: %q", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream was still open 10 s after SIGTERM")
	}
	select {
	case <-p.Done():
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("exited %s after SIGTERM", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve still running 20 s after SIGTERM with a 60 s shutdown timeout")
	}
}
