package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowUploadIsCutOff: a client that starts an upload and then sends
// nothing used to hold its connection, memory and temporary file for as
// long as it liked. It is now cut off after PROTOSTAR_HTTP_IDLE_BODY_TIMEOUT
// with a 400 that says why, and while it is in flight it holds one of the
// tenant's upload slots (429 for the next).
func TestSlowUploadIsCutOff(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve", "PROTOSTAR_HTTP_IDLE_BODY_TIMEOUT=1s", "PROTOSTAR_TENANT_MAX_UPLOADS_IN_FLIGHT=1")
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const boundary = "slowloris"
	start := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.md\"\r\n\r\n# Slow\n"
	fmt.Fprintf(conn, "POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: 1000000\r\n\r\n%s", keyA, boundary, start)
	began := time.Now()
	time.Sleep(300 * time.Millisecond) // the server is reading the stalled body now

	if code, body := p.upload("slow/other.md", keyA, []byte("# Other\n")); code != http.StatusTooManyRequests {
		t.Errorf("second upload while one is in flight: %d %s, want 429", code, short(body))
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the stalled upload got no answer within 10 s: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || time.Since(began) > 5*time.Second {
		t.Fatalf("stalled upload: %d after %s, want 400 after about 1 s", resp.StatusCode, time.Since(began))
	}
	if code, body := p.upload("slow/after.md", keyA, []byte("# After\n")); code != http.StatusAccepted {
		t.Errorf("upload after the stalled one was cut off: %d %s", code, short(body))
	}
}
