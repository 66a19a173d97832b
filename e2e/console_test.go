package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/protostar/protostar"
)

// TestConsole drives the operator console in real Chromium against
// `protostar all`: sign in with a tenant key, watch the demo corpus become
// ready live, open a document's chunks, run a Korean query and see the
// highlighted match with both ranks, stream an answer with citations, fail
// a document with binary content and reindex it once its object is fixed,
// sign out. Another tenant's documents never show, a form posted without
// the CSRF token is refused, and every page loads with no console error,
// failed request or CSP violation.
func TestConsole(t *testing.T) {
	s := newStack(t, "PROTOSTAR_API_KEYS=acme:"+keyA+",beta:"+keyB+",*:"+consolePlatformKey,
		"PROTOSTAR_SECRET_KEY=console-test-secret-key-0123456789")
	p := s.start("all")
	if code, body := p.do(http.MethodPost, "/v1/webhooks", keyA, map[string]any{"url": "https://hooks.example.invalid/protostar"}); code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	secret := p.mustUpload("beta/secret.md", keyB, []byte("# 베타 비밀\n\n데이터베이스 튜닝 비밀 문서: beta tenant only.\n"))
	b := newBrowser(t)

	// 1. Sign in with a tenant key, with the keyboard.
	b.run("open sign-in", chromedp.Navigate(p.URL+"/console/"), chromedp.WaitVisible("#key", chromedp.ByID))
	b.run("sign in", chromedp.SendKeys("#key", keyA+"\r", chromedp.ByID), chromedp.WaitVisible(`[data-testid="tenant"]`, chromedp.ByQuery))
	if got := b.text(`[data-testid="tenant"]`); !strings.Contains(got, "acme") {
		t.Fatalf("signed in as %q, want tenant acme", got)
	}
	b.shot("signed-in")

	// 2. The demo documents become ready live.
	b.run("documents", chromedp.Navigate(p.URL+"/console/documents"), chromedp.WaitVisible(".empty", chromedp.ByQuery))
	demo := uploadDemo(t, p)
	b.run("live jobs", chromedp.Navigate(p.URL+"/console/jobs"), chromedp.WaitVisible("#live-jobs table, #live-jobs .empty", chromedp.ByQuery))
	b.shot("jobs-live")
	b.run("documents again", chromedp.Navigate(p.URL+"/console/documents"), chromedp.WaitVisible("#doc-rows", chromedp.ByID))
	b.waitFor("the demo documents to be listed ready", readyJS(demo), 2*time.Minute)
	b.shot("documents-ready")
	if n := b.count(`tr[data-key="beta/secret.md"]`); n != 0 {
		t.Errorf("tenant acme's document list shows tenant beta's document")
	}

	// 3. Open a document and its chunks.
	b.run("open document", chromedp.Click(`tr[data-key="postgres-tuning.ko.md"] a`, chromedp.ByQuery),
		chromedp.WaitVisible("#chunk-list .chunk", chromedp.ByQuery))
	if n := b.count("#chunk-list .chunk .tokens"); n == 0 {
		t.Errorf("the document page shows no chunks with token counts")
	}
	b.shot("document-chunks")
	b.run("summarise", chromedp.SetValue("#length", "short", chromedp.ByID), chromedp.Click("#summarize", chromedp.ByID),
		chromedp.WaitVisible("#doc-summary", chromedp.ByID))
	b.shot("document-summary")

	// 4. A Korean query shows highlighted matches with both ranks.
	b.run("search", chromedp.Navigate(p.URL+"/console/search"), chromedp.WaitVisible("#q", chromedp.ByID),
		chromedp.SendKeys("#q", "데이터베이스 튜닝", chromedp.ByID), chromedp.Click("#run-search", chromedp.ByID),
		chromedp.WaitVisible("#results .hit mark", chromedp.ByQuery))
	code, body := p.do(http.MethodPost, "/v1/search", keyA, map[string]any{"query": "데이터베이스 튜닝", "explain": true, "top_k": 3})
	explained := decode[struct {
		Results []struct {
			Explain *struct {
				VectorRank   int      `json:"vector_rank"`
				KeywordRank  int      `json:"keyword_rank"`
				FusedScore   float64  `json:"fused_score"`
				MatchedTerms []string `json:"matched_terms"`
			} `json:"explain"`
		} `json:"results"`
	}](t, body)
	if code != http.StatusOK || len(explained.Results) == 0 || explained.Results[0].Explain == nil ||
		explained.Results[0].Explain.FusedScore == 0 || explained.Results[0].Explain.MatchedTerms == nil {
		t.Errorf("POST /v1/search with explain: %d %s", code, short(body))
	}
	var both bool
	b.run("read ranks", chromedp.Evaluate(`[...document.querySelectorAll('#results .hit')].some(h =>
		h.querySelector('.vrank').textContent.includes('#') && h.querySelector('.krank').textContent.includes('#') &&
		h.querySelector('mark') !== null)`, &both))
	if !both {
		t.Errorf("no hit shows a vector rank, a keyword rank and a highlighted match")
	}
	if strings.Contains(b.text("#results"), "beta/secret.md") {
		t.Errorf("tenant acme's search shows tenant beta's document")
	}
	b.shot("search-explain")

	// 5. Ask: the answer streams in, with citations linked to chunks.
	b.run("ask", chromedp.SendKeys("#question", "백업은 몇 시에 받나요?", chromedp.ByID), chromedp.Click("#ask", chromedp.ByID),
		chromedp.WaitVisible("#citations li a", chromedp.ByQuery))
	if b.text("#answer-text") == "" {
		t.Errorf("the streamed answer is empty")
	}
	b.shot("answer-stream")

	failedDocument(t, s, p, b)
	checkIsolationAndCSRF(t, p, b, secret.Document.ID)
	checkKorean(t, p, b)
	b.run("webhooks", chromedp.Navigate(p.URL+"/console/webhooks"), chromedp.WaitVisible(".card h2.key", chromedp.ByQuery))
	if got := b.text(".card h2.key"); !strings.Contains(got, "hooks.example.invalid") {
		t.Errorf("the webhooks page shows %q", got)
	}
	b.shot("webhooks")

	// 7. Sign out: the session ends.
	b.run("sign out", chromedp.Navigate(p.URL+"/console/"), chromedp.Click("#signout", chromedp.ByID),
		chromedp.WaitVisible("#signin-message", chromedp.ByID))
	b.run("signed out", chromedp.Navigate(p.URL+"/console/documents"), chromedp.WaitVisible("#key", chromedp.ByID))
	b.shot("signed-out")

	// A platform key chooses the tenant it acts for, and sees only its documents.
	b.run("platform sign in", chromedp.SendKeys("#key", consolePlatformKey+"\r", chromedp.ByID),
		chromedp.WaitVisible("#tenant", chromedp.ByID), chromedp.SetValue("#tenant", "beta", chromedp.ByID),
		chromedp.Submit("#tenant", chromedp.ByID), chromedp.WaitVisible("#tenant-switch", chromedp.ByID))
	b.run("beta documents", chromedp.Navigate(p.URL+"/console/documents"), chromedp.WaitVisible(`tr[data-key="beta/secret.md"]`, chromedp.ByQuery))
	if n := b.count(`tr[data-key="postgres-tuning.ko.md"]`); n != 0 {
		t.Errorf("a platform key acting for beta sees acme's documents")
	}
	b.shot("platform-beta")
	revokedKeyEndsSession(t, p, b)
}

// revokedKeyEndsSession signs in with a stored key, revokes it through the
// API, and sees the session end at the next page.
func revokedKeyEndsSession(t *testing.T, p *proc, b *browser) {
	t.Helper()
	code, body := p.as(http.MethodPost, "/v1/keys", consolePlatformKey, "acme", map[string]string{"name": "console operator"})
	if code != http.StatusCreated {
		t.Fatalf("create key: %d %s", code, short(body))
	}
	k := decode[keyJSON](t, body)
	b.run("sign out platform", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#key", chromedp.ByID))
	b.run("stored key sign in", chromedp.SendKeys("#key", k.Secret+"\r", chromedp.ByID), chromedp.WaitVisible(`[data-testid="tenant"]`, chromedp.ByQuery))
	if code, body := p.as(http.MethodDelete, "/v1/keys/"+k.Key.ID, consolePlatformKey, "acme", nil); code != http.StatusOK {
		t.Fatalf("revoke key: %d %s", code, short(body))
	}
	time.Sleep(2500 * time.Millisecond) // a revocation reaches every replica within 2 s
	b.run("revoked", chromedp.Navigate(p.URL+"/console/documents"), chromedp.WaitVisible("#signin-message", chromedp.ByID))
	if got := b.text("#signin-message"); !strings.Contains(got, "revoked") {
		t.Errorf("after revoking its key the console says %q, want it to say the key was revoked", got)
	}
	b.shot("key-revoked")
}

// consolePlatformKey is a platform key of TestConsole.
const consolePlatformKey = "platform-key-0123456789abcdef"

// uploadDemo uploads the demo corpus as tenant acme and returns its keys.
func uploadDemo(t *testing.T, p *proc) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "demo", "*.md"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("demo corpus: %v", err)
	}
	var keys []string
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.Base(path)
		p.mustUpload(key, keyA, raw)
		keys = append(keys, key)
	}
	return keys
}

func readyJS(keys []string) string {
	return `["` + strings.Join(keys, `","`) + `"].every(k => { const r = document.querySelector('tr[data-key="' + k + '"]'); return r && r.dataset.status === 'ready'; })`
}

// failedDocument is flow 6: a document with binary content fails, the
// console shows why, and once the object is fixed a reindex makes it ready.
func failedDocument(t *testing.T, s *stack, p *proc, b *browser) {
	t.Helper()
	bad := p.mustUpload("broken.md", keyA, []byte("# Broken\n\x00\x01\x02 binary\n"))
	if j := p.waitJob(bad.Job.ID, keyA, time.Minute); j.Status != "failed" {
		t.Fatalf("binary document's job = %+v, want failed", j)
	}
	b.run("failed documents", chromedp.Navigate(p.URL+"/console/documents?status=failed"),
		chromedp.WaitVisible(`tr[data-key="broken.md"]`, chromedp.ByQuery))
	b.run("open failed", chromedp.Click(`tr[data-key="broken.md"] a`, chromedp.ByQuery), chromedp.WaitVisible("#doc-error", chromedp.ByID))
	if got := b.text("#doc-error"); !strings.Contains(got, "binary") {
		t.Errorf("the failed document's error is %q, want it to name the binary content", got)
	}
	b.shot("document-failed")
	fixed := []byte("# Fixed\n\n이제 올바른 Markdown 문서입니다.\n")
	if _, err := s.objects().Put(context.Background(), protostar.ObjectKey("acme", "broken.md"), bytes.NewReader(fixed),
		int64(len(fixed)), "text/markdown"); err != nil {
		t.Fatal(err)
	}
	b.run("reindex", chromedp.Click("#reindex", chromedp.ByID), chromedp.WaitVisible("#doc-status", chromedp.ByID))
	b.waitFor("the reindexed document to be ready", `document.querySelector('#doc-status').textContent.trim() === 'ready'`, time.Minute)
	b.shot("document-reindexed")

	b.run("retry failed job", chromedp.Navigate(p.URL+"/console/jobs"), chromedp.Click("#failed-jobs button", chromedp.ByQuery),
		chromedp.WaitVisible(".flash", chromedp.ByQuery))
	b.shot("job-retried")
	doomed := p.mustUpload("delete-me.md", keyA, []byte("# Delete me\n\nShort-lived.\n"))
	p.waitJob(doomed.Job.ID, keyA, time.Minute)
	b.run("delete", chromedp.Navigate(p.URL+"/console/documents/"+doomed.Document.ID), chromedp.Click("#delete", chromedp.ByID),
		chromedp.WaitVisible(".flash", chromedp.ByQuery))
	if code, _ := p.get("/v1/documents/"+doomed.Document.ID, keyA); code != http.StatusNotFound {
		t.Errorf("the document deleted in the console answers %d, want 404", code)
	}
	b.shot("document-deleted")
}

// checkIsolationAndCSRF opens another tenant's document by id (404), and
// posts a console form without its CSRF token (403) and with it (303),
// with the browser's session cookie.
func checkIsolationAndCSRF(t *testing.T, p *proc, b *browser, otherDoc string) {
	t.Helper()
	done := b.allow("/console/documents/" + otherDoc)
	b.run("other tenant's document", chromedp.Navigate(p.URL+"/console/documents/"+otherDoc), chromedp.WaitVisible("#error-detail", chromedp.ByID))
	done()
	b.shot("other-tenant-404")

	var cookies []*network.Cookie
	b.run("cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{p.URL + "/console/"}).Do(ctx)
		return err
	}))
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(p.URL + "/console/")
	for _, c := range cookies {
		jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: c.Path}})
	}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var csrf string
	b.run("csrf token", chromedp.AttributeValue(`meta[name="csrf-token"]`, "content", &csrf, nil, chromedp.ByQuery))
	post := func(form url.Values) int {
		resp, err := client.PostForm(p.URL+"/console/tenant", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(url.Values{"tenant": {"acme"}}); code != http.StatusForbidden {
		t.Errorf("a form posted without the CSRF token got %d, want 403", code)
	}
	if code := post(url.Values{"tenant": {"acme"}, "_csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("a form posted with a wrong CSRF token got %d, want 403", code)
	}
	if code := post(url.Values{"tenant": {"acme"}, "_csrf": {csrf}}); code != http.StatusSeeOther {
		t.Errorf("a form posted with the CSRF token got %d, want 303", code)
	}
	if code := post(url.Values{"tenant": {"beta"}, "_csrf": {csrf}}); code != http.StatusForbidden {
		t.Errorf("a tenant key switching to another tenant got %d, want 403", code)
	}
}

// checkKorean switches the console to Korean and checks a phone-sized
// screen needs no horizontal scrolling.
func checkKorean(t *testing.T, p *proc, b *browser) {
	t.Helper()
	b.run("korean", chromedp.Navigate(p.URL+"/console/"), chromedp.Click(`.langs a[lang="ko"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`html[lang="ko"]`, chromedp.ByQuery))
	if got := b.text(`nav a[href="/console/documents"]`); got != "문서" {
		t.Errorf("the Korean console's documents link says %q", got)
	}
	b.run("phone", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(`html[lang="ko"]`, chromedp.ByQuery))
	var fits bool
	b.run("fits", chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth + 1`, &fits))
	if !fits {
		t.Errorf("the overview needs horizontal scrolling on a 390 px screen")
	}
	b.shot("overview-phone-ko")
	b.run("desktop", chromedp.EmulateViewport(1280, 900), chromedp.Click(`.langs a[lang="en"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`html[lang="en"]`, chromedp.ByQuery))
	b.shot("overview")
}
