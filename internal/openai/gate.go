package openai

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Shared is what the providers of every process share (Redis, see
// internal/redis.RateLimiter): a rate bucket all their requests take from,
// and a hold that a 429 puts on the bucket so that every process waits out
// the provider's Retry-After, not only the one that got it. Errors mean the
// shared state cannot be reached; the gate then limits per process.
type Shared interface {
	// Allow takes one request from bucket, which refills at perSecond up to
	// burst; when it is empty it says how long until a request may pass.
	Allow(ctx context.Context, bucket string, perSecond float64, burst int) (wait time.Duration, ok bool, err error)
	// Hold makes bucket wait d from now; a shorter hold never shortens a
	// longer one.
	Hold(ctx context.Context, bucket string, d time.Duration) error
	// Held returns how long bucket is still held; 0 when it is not.
	Held(ctx context.Context, bucket string) (time.Duration, error)
}

// Tuning of the gate.
const (
	// defaultHold is how long everyone waits after a 429 without a usable
	// Retry-After.
	defaultHold = time.Second
	// cutInterval spaces the decreases that other processes' 429s cause:
	// one overload seen through the shared hold halves the window once.
	// (The process's own 429s halve it once per round of requests, see
	// ticket.done.)
	cutInterval = 500 * time.Millisecond
	// sharedTimeout bounds one call to the shared state.
	sharedTimeout = 100 * time.Millisecond
	// sharedRetry is how long the gate limits per process alone after the
	// shared state failed, before it tries it again.
	sharedRetry = 5 * time.Second
)

// gate decides when a provider request may be sent. It keeps an adaptive
// concurrency window, like TCP's congestion window: it starts small and,
// until the first 429, every success widens it by one request (slow
// start: it doubles with each round of requests); after that each success
// widens it by 1/window (additive increase), up to MaxConcurrency, and a
// 429 — the provider's own, or another process's seen through the shared
// hold — halves it, down to one request (multiplicative decrease). A 429 also holds every request, in every
// process, for the provider's Retry-After. Requests are paced by the
// shared request rate (RequestsPerSecond for all processes together). While
// the shared state is unreachable the hold and the rate are per process.
type gate struct {
	shared  Shared   // nil: per process only
	metrics *Metrics // nil: none
	model   string
	bucket  string
	rps     float64 // +Inf: no pacing
	local   *rate.Limiter
	max     int
	logger  *slog.Logger

	mu         sync.Mutex
	window     float64
	slowStart  bool // no 429 yet: widen by one per success
	inFlight   int
	heldUntil  time.Time     // no request starts before this
	lastCut    time.Time     // when the window was last halved
	freed      chan struct{} // closed (and replaced) when a slot frees or the window grows
	sharedDown time.Time     // the shared state failed; per process until sharedDown+sharedRetry
	lastWarn   time.Time
}

// bucketName names the shared state of one endpoint, credential and model;
// the key is hashed, never stored.
func bucketName(cfg Config, model string) string {
	h := sha256.Sum256([]byte(cfg.BaseURL + "\x00" + cfg.APIKey))
	return hex.EncodeToString(h[:8]) + ":" + model
}

// newGate returns a gate whose window starts at initial (at most
// cfg.MaxConcurrency).
func newGate(logger *slog.Logger, cfg Config, model string, initial int) *gate {
	limit := rate.Limit(cfg.RequestsPerSecond)
	if math.IsInf(cfg.RequestsPerSecond, 1) {
		limit = rate.Inf
	}
	return &gate{shared: cfg.Shared, metrics: cfg.Metrics, model: model, bucket: bucketName(cfg, model), rps: cfg.RequestsPerSecond,
		local: rate.NewLimiter(limit, 1), max: cfg.MaxConcurrency, logger: logger,
		window: float64(min(initial, cfg.MaxConcurrency)), slowStart: true, freed: make(chan struct{})}
}

// ticket is one admitted request; done must be called once.
type ticket struct {
	g     *gate
	start time.Time
}

// acquire waits until a request may be sent: no hold, a free slot in the
// window, and its turn in the request rate. It fails only when ctx ends.
func (g *gate) acquire(ctx context.Context) (*ticket, error) {
	for {
		if err := g.waitHold(ctx); err != nil {
			return nil, err
		}
		g.mu.Lock()
		if time.Now().Before(g.heldUntil) { // a 429 came in meanwhile
			g.mu.Unlock()
			continue
		}
		if g.inFlight < max(1, int(g.window)) {
			g.inFlight++
			g.mu.Unlock()
			break
		}
		freed := g.freed
		g.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	t := &ticket{g: g}
	if err := g.pace(ctx); err != nil {
		t.done(0, 0)
		return nil, err
	}
	t.start = time.Now()
	return t, nil
}

// waitHold waits out the hold, the process's own and the shared one.
func (g *gate) waitHold(ctx context.Context) error {
	for {
		if d, ok := g.sharedHeld(ctx); ok && d > 0 {
			g.observe(time.Now().Add(d))
		}
		g.mu.Lock()
		wait := time.Until(g.heldUntil)
		g.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// pace takes the request's turn from the shared request rate, or from the
// process's own while the shared state is unreachable.
func (g *gate) pace(ctx context.Context) error {
	if math.IsInf(g.rps, 1) {
		return nil
	}
	for g.useShared() {
		sctx, cancel := context.WithTimeout(ctx, sharedTimeout)
		wait, ok, err := g.shared.Allow(sctx, g.bucket, g.rps, 1)
		cancel()
		if err != nil {
			g.sharedFailed(err)
			break
		}
		if ok {
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
	return g.local.Wait(ctx)
}

// done releases the ticket's slot and adapts to the response: status is
// the HTTP status (0 without a response), retryAfter what the provider
// asked for (0 when it did not say).
func (t *ticket) done(status int, retryAfter time.Duration) {
	g := t.g
	now := time.Now()
	hold := retryAfter
	if hold <= 0 {
		hold = defaultHold
	}
	g.mu.Lock()
	g.inFlight--
	switch {
	case status == http.StatusTooManyRequests:
		g.heldUntil = maxTime(g.heldUntil, now.Add(hold))
		// Requests sent before the last cut tell nothing about the
		// narrower window: one overload halves it once.
		if t.start.After(g.lastCut) {
			g.cut(now, "provider answered 429")
		}
	case status >= 200 && status < 300 && g.slowStart:
		g.window = min(float64(g.max), g.window+1)
	case status >= 200 && status < 300:
		g.window = min(float64(g.max), g.window+1/g.window)
	}
	g.wake()
	if !t.start.IsZero() {
		// Under g.mu, so that the gauge ends at the window's last value
		// when responses finish together.
		g.metrics.observe(g.model, status, g.window)
	}
	g.mu.Unlock()
	if t.start.IsZero() {
		return // never sent
	}
	if status == http.StatusTooManyRequests && g.useShared() {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		if err := g.shared.Hold(ctx, g.bucket, hold); err != nil {
			g.sharedFailed(err)
		}
	}
}

// observe takes in a shared hold ending at until: a hold that ends later
// than the process knew of is another process's 429, which halves this
// process's window too.
func (g *gate) observe(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.Sub(g.heldUntil) > 50*time.Millisecond {
		g.heldUntil = until
		if now := time.Now(); now.Sub(g.lastCut) >= cutInterval {
			g.cut(now, "another process was answered 429")
		}
	}
}

// cut halves the window. g.mu is held.
func (g *gate) cut(now time.Time, why string) {
	g.lastCut, g.slowStart = now, false
	old := g.window
	g.window = max(1, g.window/2)
	g.logger.Debug("provider concurrency window halved", "reason", why, "from", round1(old), "to", round1(g.window),
		"held_for", time.Until(g.heldUntil).Round(time.Millisecond))
}

// wake lets waiting acquires look again. g.mu is held.
func (g *gate) wake() {
	close(g.freed)
	g.freed = make(chan struct{})
}

// Window returns the current concurrency window.
func (g *gate) Window() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.window
}

func (g *gate) sharedHeld(ctx context.Context) (time.Duration, bool) {
	if !g.useShared() {
		return 0, false
	}
	sctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	d, err := g.shared.Held(sctx, g.bucket)
	if err != nil {
		if ctx.Err() == nil {
			g.sharedFailed(err)
		}
		return 0, false
	}
	return d, true
}

func (g *gate) useShared() bool {
	if g.shared == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Since(g.sharedDown) >= sharedRetry
}

// sharedFailed switches to per-process limits for sharedRetry, warning at
// most every ten seconds.
func (g *gate) sharedFailed(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sharedDown = time.Now()
	if time.Since(g.lastWarn) < 10*time.Second {
		return
	}
	g.lastWarn = time.Now()
	g.logger.Warn("shared provider limits unavailable; limiting per process meanwhile", "error", err)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
