package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/protostar/protostar/internal/testenv"
)

const secretKeyEnv = "PROTOSTAR_SECRET_KEY=e2e-secret-key-0123456789"

// receiver is a webhook endpoint on loopback that records what it gets and
// answers with what respond says (200 by default).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(n int, r *http.Request) int // n: requests so far, from 1
}

type received struct {
	at     time.Time
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request) int) *receiver {
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{at: time.Now(), path: r.URL.Path, header: r.Header.Clone(), body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		code := http.StatusOK
		if rc.respond != nil {
			code = rc.respond(n, r)
		}
		if code == 0 { // play dead: drop the connection
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "/target")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// ofType returns the requests whose event type is typ.
func (rc *receiver) ofType(typ string) []received {
	var out []received
	for _, r := range rc.requests() {
		var ev struct{ Type string }
		if json.Unmarshal(r.body, &ev) == nil && ev.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

type createdWebhook struct {
	Webhook struct {
		ID string `json:"id"`
	} `json:"webhook"`
	Secret string `json:"secret"`
}

func (p *proc) createWebhook(key, url string, types ...string) createdWebhook {
	p.t.Helper()
	code, body := p.do(http.MethodPost, "/v1/webhooks", key, map[string]any{"url": url, "event_types": types})
	if code != http.StatusCreated {
		p.t.Fatalf("create webhook: %d %s", code, short(body))
	}
	return decode[createdWebhook](p.t, body)
}

// verify checks a request's signature with the Standard Webhooks
// reference library: an implementation independent of protostar's.
func verify(t *testing.T, secret string, r received) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.body, r.header); err != nil {
		t.Fatalf("signature does not verify: %v (headers %v)", err, r.header)
	}
}

// TestWebhookDeliversSignedEventsWithRetries: document.ready reaches a
// receiver signed as Standard Webhooks defines (checked by its reference
// library); a receiver that answers 500 three times gets four attempts
// with the same webhook-id at growing intervals; the deliveries listing
// shows them; another tenant sees none of it.
func TestWebhookDeliversSignedEventsWithRetries(t *testing.T) {
	t.Parallel()
	s := newStack(t, secretKeyEnv, "PROTOSTAR_WEBHOOK_ALLOW_HOSTS=127.0.0.1",
		"PROTOSTAR_WEBHOOK_RETRY_SCHEDULE=300ms,600ms,1200ms,5s")
	p := s.start("all")
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	hook := p.createWebhook(keyA, rc.srv.URL+"/hooks", "document.ready")
	a := p.mustUpload("hooks/ready.md", keyA, []byte("# Ready\n\nA document that becomes ready.\n"))
	testenv.WaitFor(t, 60*time.Second, "four attempts of document.ready", func() bool { return len(rc.ofType("document.ready")) >= 4 })
	time.Sleep(500 * time.Millisecond) // no fifth attempt after the 200
	got := rc.ofType("document.ready")
	if len(got) != 4 {
		t.Fatalf("%d attempts, want 4", len(got))
	}
	id := got[0].header.Get("webhook-id")
	for i, r := range got {
		if r.header.Get("webhook-id") != id || id == "" {
			t.Fatalf("attempt %d has webhook-id %q, want %q for all", i+1, r.header.Get("webhook-id"), id)
		}
		verify(t, hook.Secret, r)
	}
	gaps := []time.Duration{got[1].at.Sub(got[0].at), got[2].at.Sub(got[1].at), got[3].at.Sub(got[2].at)}
	if !(gaps[0] < gaps[1] && gaps[1] < gaps[2]) {
		t.Fatalf("intervals between attempts %v, want growing", gaps)
	}
	var ev struct {
		Type string
		Data struct {
			Document struct{ ID, Status string }
		}
	}
	if err := json.Unmarshal(got[3].body, &ev); err != nil || ev.Data.Document.ID != a.Document.ID || ev.Data.Document.Status != "ready" {
		t.Fatalf("event body %s (%v), want document %s ready", got[3].body, err, a.Document.ID)
	}

	code, body := p.get("/v1/webhooks/"+hook.Webhook.ID+"/deliveries", keyA)
	var list struct {
		Deliveries []struct {
			EventID  string `json:"event_id"`
			Status   string
			Attempts []struct {
				StatusCode int `json:"status_code"`
			}
		}
	}
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Deliveries) != 1 {
		t.Fatalf("deliveries: %d %s", code, short(body))
	}
	d := list.Deliveries[0]
	if d.EventID != id || d.Status != "succeeded" || len(d.Attempts) != 4 || d.Attempts[0].StatusCode != 500 || d.Attempts[3].StatusCode != 200 {
		t.Fatalf("delivery = %+v", d)
	}
	for _, path := range []string{"/v1/webhooks/" + hook.Webhook.ID, "/v1/webhooks/" + hook.Webhook.ID + "/deliveries"} {
		if code, body := p.get(path, keyB); code != http.StatusNotFound {
			t.Fatalf("another tenant's GET %s: %d %s, want 404", path, code, short(body))
		}
	}
	if code, body := p.get("/v1/webhooks", keyB); code != http.StatusOK || !strings.Contains(string(body), `"webhooks":[]`) {
		t.Fatalf("another tenant's list: %d %s", code, short(body))
	}
}

// TestWebhookEventsSurviveKills: while the receiver is down, the process
// that owes the deliveries is SIGKILLed and restarted twice; once the
// receiver is back, every document's document.ready arrives.
func TestWebhookEventsSurviveKills(t *testing.T) {
	t.Parallel()
	s := newStack(t, secretKeyEnv, "PROTOSTAR_WEBHOOK_ALLOW_HOSTS=127.0.0.1",
		"PROTOSTAR_WEBHOOK_TIMEOUT=2s", "PROTOSTAR_WEBHOOK_RETRY_SCHEDULE="+strings.Repeat("1s,", 19)+"1s")
	var up sync.Map
	rc := newReceiver(t, func(int, *http.Request) int {
		if _, ok := up.Load("up"); ok {
			return http.StatusOK
		}
		return 0
	})
	p := s.start("all")
	p.createWebhook(keyA, rc.srv.URL+"/hooks", "document.ready")
	const docs = 6
	for i := range docs {
		p.mustUpload("kills/doc-"+string(rune('a'+i))+".md", keyA, []byte("# Doc\n\nText of a document.\n"))
	}
	for range 2 {
		time.Sleep(1500 * time.Millisecond)
		p.Kill()
		if err := p.StartReady(context.Background(), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	up.Store("up", true)
	testenv.WaitFor(t, 90*time.Second, "document.ready for every document", func() bool {
		ids := map[string]bool{}
		for _, r := range rc.ofType("document.ready") {
			if r.header.Get("webhook-id") != "" {
				ids[r.header.Get("webhook-id")] = true
			}
		}
		return len(ids) == docs
	})
}

// TestWebhookAddressGuard: without an allow-list entry, an https endpoint
// on 127.0.0.1 is accepted as a URL but no delivery dials it (the refusal
// is recorded on the attempt); http needs the allow list; a redirect is
// not followed.
func TestWebhookAddressGuard(t *testing.T) {
	t.Parallel()
	s := newStack(t, secretKeyEnv, "PROTOSTAR_WEBHOOK_RETRY_SCHEDULE=1h")
	p := s.start("all")
	rc := newReceiver(t, nil)
	if code, body := p.do(http.MethodPost, "/v1/webhooks", keyA, map[string]any{"url": rc.srv.URL}); code != http.StatusBadRequest {
		t.Fatalf("http URL without allow list: %d %s, want 400", code, short(body))
	}
	_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())
	hook := p.createWebhook(keyA, "https://127.0.0.1:"+port+"/hooks")
	if code, body := p.do(http.MethodPost, "/v1/webhooks/"+hook.Webhook.ID+"/test", keyA, nil); code != http.StatusAccepted {
		t.Fatalf("test event: %d %s", code, short(body))
	}
	attemptError := func(p *proc, id string) string {
		_, body := p.get("/v1/webhooks/"+id+"/deliveries", keyA)
		var list struct {
			Deliveries []struct {
				Attempts []struct {
					Error string
				}
			}
		}
		if json.Unmarshal(body, &list) != nil || len(list.Deliveries) == 0 || len(list.Deliveries[0].Attempts) == 0 {
			return ""
		}
		a := list.Deliveries[0].Attempts[0]
		return a.Error
	}
	var refused string
	testenv.WaitFor(t, 30*time.Second, "the refused attempt to be recorded", func() bool {
		refused = attemptError(p, hook.Webhook.ID)
		return refused != ""
	})
	if !strings.Contains(refused, "loopback") || len(rc.requests()) != 0 {
		t.Fatalf("attempt error %q with %d requests received; want a loopback refusal and none", refused, len(rc.requests()))
	}

	s2 := newStack(t, secretKeyEnv, "PROTOSTAR_WEBHOOK_ALLOW_HOSTS=127.0.0.1", "PROTOSTAR_WEBHOOK_RETRY_SCHEDULE=1h")
	p2 := s2.start("all")
	redirecting := newReceiver(t, func(_ int, r *http.Request) int {
		if r.URL.Path == "/hooks" {
			return http.StatusFound
		}
		return http.StatusOK
	})
	hook2 := p2.createWebhook(keyA, redirecting.srv.URL+"/hooks")
	if code, body := p2.do(http.MethodPost, "/v1/webhooks/"+hook2.Webhook.ID+"/test", keyA, nil); code != http.StatusAccepted {
		t.Fatalf("test event: %d %s", code, short(body))
	}
	testenv.WaitFor(t, 30*time.Second, "the redirected attempt to be recorded", func() bool {
		refused = attemptError(p2, hook2.Webhook.ID)
		return refused != ""
	})
	if !strings.Contains(refused, "redirect not followed") {
		t.Fatalf("attempt error %q, want the redirect not followed", refused)
	}
	for _, r := range redirecting.requests() {
		if r.path != "/hooks" {
			t.Fatalf("the redirect was followed to %s", r.path)
		}
	}
}

// TestWebhookSecretRotation: after rotate-secret, deliveries carry a
// signature by the new secret and one by the old, so a receiver verifies
// with either while it switches.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	s := newStack(t, secretKeyEnv, "PROTOSTAR_WEBHOOK_ALLOW_HOSTS=127.0.0.1")
	p := s.start("serve")
	w := s.start("worker")
	defer w.Stop()
	rc := newReceiver(t, nil)
	hook := p.createWebhook(keyA, rc.srv.URL+"/hooks")
	code, body := p.do(http.MethodPost, "/v1/webhooks/"+hook.Webhook.ID+"/rotate-secret", keyA, nil)
	rotated := decode[createdWebhook](t, body)
	if code != http.StatusOK || rotated.Secret == "" || rotated.Secret == hook.Secret {
		t.Fatalf("rotate: %d %s", code, short(body))
	}
	if code, body := p.do(http.MethodPost, "/v1/webhooks/"+hook.Webhook.ID+"/test", keyA, nil); code != http.StatusAccepted {
		t.Fatalf("test event: %d %s", code, short(body))
	}
	testenv.WaitFor(t, 30*time.Second, "the test event", func() bool { return len(rc.ofType("webhook.test")) == 1 })
	r := rc.ofType("webhook.test")[0]
	verify(t, hook.Secret, r)
	verify(t, rotated.Secret, r)
}
