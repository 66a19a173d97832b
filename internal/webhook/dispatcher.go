package webhook

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/protostar/protostar"
)

// Store is where deliveries wait and their attempts are recorded.
type Store interface {
	ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]protostar.Outbound, error)
	RecordAttempt(ctx context.Context, o protostar.AttemptOutcome) error
	DeliveryBacklog(ctx context.Context) (int64, time.Duration, error)
}

// DefaultSchedule returns the wait before each retry, as Svix's: the
// first attempt is immediate, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
func DefaultSchedule() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

// Config tunes the dispatcher.
type Config struct {
	Schedule     []time.Duration // waits before retries; len+1 attempts in all
	Timeout      time.Duration   // a 2xx must arrive within it; default 15s
	DisableAfter time.Duration   // an endpoint failing this long is disabled; default 5 days
	Concurrency  int             // deliveries in flight per process; default 8
	Interval     time.Duration   // poll interval; default 500ms
	// Tracer traces each delivery attempt as a client span (nil: none).
	// No trace context is sent to the receiver: its endpoint is a third
	// party's.
	Tracer trace.TracerProvider
}

// Dispatcher sends due deliveries. Several processes may run one: a
// delivery is leased to one sender at a time.
type Dispatcher struct {
	store   Store
	sealer  *Sealer
	client  *http.Client
	cfg     Config
	logger  *slog.Logger
	metrics *Metrics

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewDispatcher returns a dispatcher; it sends nothing until Start.
func NewDispatcher(logger *slog.Logger, store Store, sealer *Sealer, guard *Guard, m *Metrics, cfg Config) *Dispatcher {
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule()
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 15*time.Second)
	cfg.DisableAfter = cmp.Or(cfg.DisableAfter, 5*24*time.Hour)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 8)
	cfg.Interval = cmp.Or(cfg.Interval, 500*time.Millisecond)
	client := guard.Client(cfg.Timeout)
	if cfg.Tracer != nil {
		client.Transport = otelhttp.NewTransport(client.Transport, otelhttp.WithTracerProvider(cfg.Tracer),
			otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()))
	}
	return &Dispatcher{store: store, sealer: sealer, client: client, cfg: cfg,
		logger: logger.With("component", "webhooks"), metrics: m}
}

// Start runs the loop until Stop.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		return nil
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.wg.Go(func() { d.loop(ctx) })
	return nil
}

// Stop ends the loop and waits for deliveries in flight (each is bounded by
// the timeout). Safe to call twice.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	cancel := d.cancel
	d.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	d.wg.Wait()
}

func (d *Dispatcher) loop(ctx context.Context) {
	sem := make(chan struct{}, d.cfg.Concurrency)
	var senders sync.WaitGroup
	defer senders.Wait()
	tick := time.NewTicker(d.cfg.Interval)
	defer tick.Stop()
	lease := d.cfg.Timeout + 10*time.Second
	var lastBacklog time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(lastBacklog) >= 5*time.Second {
			lastBacklog = time.Now()
			if n, oldest, err := d.store.DeliveryBacklog(ctx); err == nil {
				d.metrics.backlog(n, oldest)
			}
		}
		free := cap(sem) - len(sem)
		if free == 0 {
			continue
		}
		claimed, err := d.store.ClaimDeliveries(ctx, free, lease)
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Warn("claim webhook deliveries failed", "error", err)
			}
			continue
		}
		for _, o := range claimed {
			sem <- struct{}{}
			senders.Go(func() {
				defer func() { <-sem }()
				d.deliver(context.WithoutCancel(ctx), o)
			})
		}
	}
}

// deliver makes one attempt and records its outcome. It runs to the end
// even on Stop (bounded by the timeout), so an attempt that was made is
// recorded; one that could not be recorded is retried when its lease ends.
func (d *Dispatcher) deliver(ctx context.Context, o protostar.Outbound) {
	res, retryAfter := d.send(ctx, o)
	out := d.decide(o, res, retryAfter, time.Now())
	d.metrics.observe(out)
	d.logger.Debug("webhook attempt", "delivery_id", o.DeliveryID, "webhook_id", o.EndpointID, "attempt", o.Attempt,
		"status_code", res.StatusCode, "error", res.Error, "succeeded", out.Succeeded)
	if err := d.store.RecordAttempt(ctx, out); err != nil {
		d.logger.Warn("could not record a webhook attempt; it is retried when its lease ends",
			"delivery_id", o.DeliveryID, "error", err)
	}
	if out.Disable != "" {
		d.logger.Warn("webhook disabled", "webhook_id", o.EndpointID, "tenant", o.TenantID, "reason", out.Disable)
	}
}

// responseLimit bounds how much of a response is read and kept.
const responseLimit = 1024

func (d *Dispatcher) send(ctx context.Context, o protostar.Outbound) (protostar.DeliveryAttempt, time.Duration) {
	start := time.Now()
	res := protostar.DeliveryAttempt{Attempt: o.Attempt, At: start.UTC()}
	defer func() { res.LatencyMS = time.Since(start).Milliseconds() }()
	secrets, err := signingSecrets(d.sealer, o.Secrets, start)
	if err != nil {
		res.Error = "cannot sign: " + err.Error()
		return res, 0
	}
	sig, err := Signature(secrets, o.EventID, start, o.Payload)
	if err != nil {
		res.Error = "cannot sign: " + err.Error()
		return res, 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(o.Payload))
	if err != nil {
		res.Error = "bad url: " + err.Error()
		return res, 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "protostar-webhooks/1")
	req.Header.Set("webhook-id", o.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		res.Error = describe(err)
		return res, 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, responseLimit))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	res.StatusCode = resp.StatusCode
	res.Response = excerpt(body)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		res.Error = "redirect not followed (Location: " + excerpt([]byte(resp.Header.Get("Location"))) + ")"
	}
	return res, retryAfter(resp)
}

// decide turns an attempt's result into the delivery's next state.
func (d *Dispatcher) decide(o protostar.Outbound, res protostar.DeliveryAttempt, retryAfter time.Duration, now time.Time) protostar.AttemptOutcome {
	out := protostar.AttemptOutcome{Outbound: o, Result: res}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		out.Succeeded = true
		return out
	}
	if res.StatusCode == http.StatusGone {
		out.Disable = "the endpoint answered 410 Gone"
		return out
	}
	if o.FailingSince != nil && now.Sub(*o.FailingSince) >= d.cfg.DisableAfter {
		out.Disable = fmt.Sprintf("every delivery failed for %s", d.cfg.DisableAfter)
		return out
	}
	if o.Attempt > len(d.cfg.Schedule) {
		return out // gave up
	}
	wait := jitter(d.cfg.Schedule[o.Attempt-1])
	if retryAfter > 0 && (res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) {
		wait = min(retryAfter, 24*time.Hour)
	}
	next := now.Add(wait)
	out.NextAttemptAt = &next
	return out
}

// jitter spreads a wait by ±10%, so endpoints failing together don't
// retry in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/10 + rand.N(d/5+1)
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(resp *http.Response) time.Duration {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// describe names a transport failure without internals a tenant needn't see.
func describe(err error) string {
	switch {
	case errors.Is(err, errRefused):
		msg := err.Error()
		if i := strings.Index(msg, errRefused.Error()); i >= 0 {
			msg = msg[i:]
		}
		return msg
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(err.Error(), "Client.Timeout"):
		return "no response within the timeout"
	}
	return excerpt([]byte(err.Error()))
}

// excerpt returns at most responseLimit bytes of b as valid UTF-8.
func excerpt(b []byte) string {
	if len(b) > responseLimit {
		b = b[:responseLimit]
	}
	return strings.ToValidUTF8(string(b), string(utf8.RuneError))
}
