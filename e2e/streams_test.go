package e2e

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"sync"
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

// TestThousandEventStreams: a thousand clients open event streams at once.
// The tenant's cap (100) holds: the rest get 429 with Retry-After, nothing
// else fails, the API and /readyz keep answering meanwhile, and SIGTERM
// ends every open stream and the process within seconds.
func TestThousandEventStreams(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve", "PROTOSTAR_SHUTDOWN_TIMEOUT=60s", "PROTOSTAR_TENANT_MAX_STREAMS=100")
	acc := p.mustUpload("streams/many.md", keyA, []byte("# A\n\nText.\n")) // no worker: the job stays queued
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true}}
	const clients = 1000
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		noRetry  int
		wg       sync.WaitGroup
		open     sync.WaitGroup
		ended    = make(chan struct{}, clients)
	)
	open.Add(clients)
	for range clients {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/jobs/"+acc.Job.ID+"/events", nil)
			req.Header.Set("Authorization", "Bearer "+keyA)
			resp, err := client.Do(req)
			code := 0
			if err == nil {
				code = resp.StatusCode
			}
			mu.Lock()
			statuses[code]++
			if code == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				noRetry++
			}
			mu.Unlock()
			open.Done()
			if err != nil {
				return
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if code == http.StatusOK {
				ended <- struct{}{}
			}
		})
	}
	open.Wait()
	if statuses[http.StatusOK] != 100 || statuses[http.StatusTooManyRequests] != clients-100 || noRetry != 0 {
		t.Errorf("statuses %v (%d 429s without Retry-After); want 100×200 and %d×429, all with Retry-After", statuses, noRetry, clients-100)
	}
	if code, body := p.get("/readyz", ""); code != http.StatusOK {
		t.Errorf("/readyz with 100 streams open: %d %s", code, body)
	}
	if code, body := p.get("/v1/jobs/"+acc.Job.ID, keyA); code != http.StatusOK {
		t.Errorf("GET the job with 100 streams open: %d %s", code, body)
	}
	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := range statuses[http.StatusOK] {
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d streams still open 10 s after SIGTERM", statuses[http.StatusOK]-i, statuses[http.StatusOK])
		}
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("serve still running 20 s after SIGTERM")
	}
	t.Logf("1000 clients: %v; all streams and the process ended %s after SIGTERM", statuses, time.Since(start).Round(10*time.Millisecond))
	wg.Wait()
}
