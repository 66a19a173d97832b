package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium package, which scripts/stack.sh up
// installs.
const chromiumPath = "/usr/bin/chromium"

// browser is a headless Chromium driven over the DevTools protocol. It
// records every console error, uncaught exception, CSP violation and
// failed request the pages report; problems returns them.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string

	mu       sync.Mutex
	problems []string
	allowed  []string // URL substrings whose error statuses a step expects
	seq      int
}

// newBrowser starts Chromium for the test and stops it when the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("PROTOSTAR_REQUIRE_STACK") == "1" {
			t.Fatalf("%s is missing: `make test` installs it (scripts/stack.sh up)", chromiumPath)
		}
		t.Skipf("%s is missing; run `make test`", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-US"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, shots: shotDir(t)}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	chromedp.ListenTarget(ctx, b.record)
	if err := chromedp.Run(ctx, network.Enable(), cdplog.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// shotDir is bin/console-shots at the repository's root (ignored by git),
// emptied of an earlier run's screenshots.
func shotDir(t *testing.T) string {
	dir, err := filepath.Abs(filepath.Join("..", "bin", "console-shots"))
	if err == nil {
		err = os.RemoveAll(dir)
	}
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func (b *browser) record(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		problem = "uncaught exception: " + ev.ExceptionDetails.Error()
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *cdplog.EventEntryAdded:
		// CSP violations and failed loads are reported here too.
		if ev.Entry.Level == cdplog.LevelError && !b.isAllowed(ev.Entry.URL+" "+ev.Entry.Text) {
			problem = "console (" + string(ev.Entry.Source) + "): " + ev.Entry.Text + " " + ev.Entry.URL
		}
	case *page.EventJavascriptDialogOpening:
		// The page asks before deleting: accept, as an operator would.
		go func() { _ = chromedp.Run(b.ctx, page.HandleJavaScriptDialog(true)) }()
	case *network.EventLoadingFailed:
		// A stream the page closes (leaving a page, sse-close) is canceled.
		if !ev.Canceled && ev.BlockedReason == "" {
			problem = "request failed: " + ev.ErrorText
		} else if ev.BlockedReason != "" {
			problem = "request blocked: " + string(ev.BlockedReason)
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 && !b.isAllowed(ev.Response.URL) {
			problem = fmt.Sprintf("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.problems = append(b.problems, problem)
		b.mu.Unlock()
	}
}

func (b *browser) isAllowed(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.allowed {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// allow lets the pages answer URLs containing sub with an error status
// (a step that expects a 404, say) until the returned func is called.
func (b *browser) allow(sub string) func() {
	b.mu.Lock()
	b.allowed = append(b.allowed, sub)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, a := range b.allowed {
			if a == sub {
				b.allowed = append(b.allowed[:i], b.allowed[i+1:]...)
				return
			}
		}
	}
}

// check fails the test with every problem recorded since the last check.
func (b *browser) check(step string) {
	b.t.Helper()
	b.mu.Lock()
	problems := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range problems {
		b.t.Errorf("%s: the page reported: %s", step, p)
	}
}

// run runs actions with a timeout, failing the test on an error.
func (b *browser) run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var html string
		_ = chromedp.Run(b.ctx, chromedp.OuterHTML("main", &html, chromedp.ByQuery))
		b.t.Fatalf("%s: %v\npage: %s", step, err, truncate([]byte(html)))
	}
}

// shot saves a screenshot of the page under bin/console-shots, numbered in
// the order taken, and checks the page reported no problems.
func (b *browser) shot(name string) {
	b.t.Helper()
	b.seq++
	var png []byte
	b.run("screenshot "+name, chromedp.CaptureScreenshot(&png))
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.seq, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.check(name)
}

// text returns the text of the first node matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery, chromedp.NodeVisible))
	return s
}

// count returns how many nodes match sel now.
func (b *browser) count(sel string) int {
	b.t.Helper()
	var nodes []*cdp.Node
	b.run("count "+sel, chromedp.Nodes(sel, &nodes, chromedp.ByQueryAll, chromedp.AtLeast(0)))
	return len(nodes)
}

// waitFor waits until the JavaScript expression js is true on the page.
func (b *browser) waitFor(what, js string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		b.run("evaluate "+what, chromedp.Evaluate(js, &ok))
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			_ = chromedp.Run(b.ctx, chromedp.OuterHTML("main", &html, chromedp.ByQuery))
			b.t.Fatalf("timed out waiting for %s\npage: %s", what, truncate([]byte(html)))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
