package webhook

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/protostar/protostar"
)

// TestSignatureVerifiesWithTheReferenceLibrary: both signatures of a
// rotation verify with the Standard Webhooks reference implementation, each
// with its own secret, and a stranger's secret verifies neither.
func TestSignatureVerifiesWithTheReferenceLibrary(t *testing.T) {
	oldSecret, newSecret := NewSecret(), NewSecret()
	body := []byte(`{"type":"document.ready"}`)
	now := time.Now()
	sig, err := Signature([]string{newSecret, oldSecret}, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(sig)); n != 2 {
		t.Fatalf("signature %q has %d parts, want 2", sig, n)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	for _, secret := range []string{oldSecret, newSecret, NewSecret()} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		err = wh.Verify(body, h)
		if stranger := secret != oldSecret && secret != newSecret; (err == nil) == stranger {
			t.Errorf("verify (stranger %v): %v", stranger, err)
		}
	}
}

func TestSealerRoundTrip(t *testing.T) {
	s, err := NewSealer("0123456789abcdef-key")
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("whsec_abc")
	if strings.Contains(string(sealed), "whsec_abc") {
		t.Fatal("sealed secret holds the plain text")
	}
	if got, err := s.Open(sealed); err != nil || got != "whsec_abc" {
		t.Fatalf("open = %q, %v", got, err)
	}
	other, _ := NewSealer("another-key-0123456789")
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("a different PROTOSTAR_SECRET_KEY opens the secret")
	}
	if s, err := NewSealer(""); s != nil || err != nil {
		t.Fatalf("empty key = %v, %v; want nil, nil", s, err)
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	longAgo := now.Add(-6 * 24 * time.Hour)
	recently := now.Add(-time.Hour)
	d := NewDispatcher(slog.New(slog.DiscardHandler), nil, nil, NewGuard(nil), nil, Config{Schedule: []time.Duration{time.Second, time.Minute}})
	tests := []struct {
		name       string
		attempt    int
		code       int
		retryAfter time.Duration
		failing    *time.Time
		succeeded  bool
		disable    bool
		next       time.Duration // 0: no next attempt
	}{
		{name: "2xx succeeds", attempt: 1, code: 204, succeeded: true},
		{name: "500 retries on the schedule", attempt: 1, code: 500, failing: &recently, next: time.Second},
		{name: "second failure waits the second step", attempt: 2, code: 502, next: time.Minute},
		{name: "schedule exhausted gives up", attempt: 3, code: 500},
		{name: "410 disables", attempt: 1, code: 410, disable: true},
		{name: "failing for longer than DisableAfter disables", attempt: 1, code: 500, failing: &longAgo, disable: true},
		{name: "429 honours Retry-After", attempt: 1, code: 429, retryAfter: 90 * time.Second, next: 90 * time.Second},
		{name: "503 honours Retry-After", attempt: 2, code: 503, retryAfter: 7 * time.Second, next: 7 * time.Second},
		{name: "Retry-After on a 500 is ignored", attempt: 1, code: 500, retryAfter: time.Hour, next: time.Second},
		{name: "no response retries", attempt: 1, code: 0, next: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := protostar.Outbound{Attempt: tt.attempt, FailingSince: tt.failing}
			out := d.decide(o, protostar.DeliveryAttempt{StatusCode: tt.code}, tt.retryAfter, now)
			if out.Succeeded != tt.succeeded || (out.Disable != "") != tt.disable {
				t.Fatalf("succeeded %v disable %q; want %v %v", out.Succeeded, out.Disable, tt.succeeded, tt.disable)
			}
			switch {
			case tt.next == 0 && out.NextAttemptAt != nil:
				t.Fatalf("next attempt at %v, want none", out.NextAttemptAt)
			case tt.next != 0 && out.NextAttemptAt == nil:
				t.Fatalf("no next attempt, want one after %v", tt.next)
			case tt.next != 0:
				got := out.NextAttemptAt.Sub(now)
				if got < tt.next*9/10 || got > tt.next*11/10 {
					t.Fatalf("next attempt after %v, want %v ±10%%", got, tt.next)
				}
			}
		})
	}
}

func TestNonPublic(t *testing.T) {
	for addr, public := range map[string]bool{
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fc00::1": false, "224.0.0.1": false,
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true, "93.184.216.34": true,
	} {
		if got := nonPublic(netip.MustParseAddr(addr)) == ""; got != public {
			t.Errorf("%s public = %v, want %v", addr, got, public)
		}
	}
	// An IPv4-mapped IPv6 loopback is loopback.
	if nonPublic(netip.MustParseAddr("::ffff:127.0.0.1").Unmap()) == "" {
		t.Error("::ffff:127.0.0.1 is public")
	}
}

func TestCheckURL(t *testing.T) {
	g := NewGuard([]string{"receiver.internal", "127.0.0.1"})
	for raw, ok := range map[string]bool{
		"https://app.example.com/hooks":        true,
		"http://app.example.com/hooks":         false,
		"http://receiver.internal:8080/h":      true,
		"http://127.0.0.1:9000/h":              true,
		"https://user:pw@app.example.com/h":    false,
		"ftp://app.example.com/":               false,
		"/relative":                            false,
		"https://app.example.com/h#fragment":   false,
		"https://" + strings.Repeat("a", 2050): false,
	} {
		if err := g.CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%.40q) = %v, want ok %v", raw, err, ok)
		}
	}
}
