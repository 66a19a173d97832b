package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/queue"
	"github.com/protostar/protostar/internal/redis"
	"github.com/protostar/protostar/internal/testenv"
)

// The service's queue settings (internal/config defaults, wired as in
// internal/cli/daemon.go).
const (
	queuePollInterval = 20 * time.Millisecond // PROTOSTAR_QUEUE_POLL_INTERVAL
	queueMaxRetry     = 5 + 3                 // PROTOSTAR_JOB_MAX_ATTEMPTS + 3
	queueJobTimeout   = 2 * time.Hour         // PROTOSTAR_JOB_TIMEOUT
)

// queueFigure measures figure 4 with internal/queue itself, configured as
// the worker configures it, on the private Redis: the time from enqueue
// to the start of a no-op handler, and jobs/s.
func (b *bench) queueFigure(ctx context.Context) ([]Result, error) {
	rc, err := redis.NewClient(b.h.redis.DBURL(2))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	q := newQueueProbe(queue.NewClient(rc, queueMaxRetry, queueJobTimeout), b.s.QueueJobs)
	srv := queue.NewServer(b.logger, rc, queue.ServerConfig{
		Concurrency: defaultWorkerConcurrency, PollInterval: queuePollInterval,
		Queues:       map[string]int{queue.QueueIngest: 3, queue.QueueSummary: 1},
		ShutdownWait: 10 * time.Second,
	}, map[string]queue.HandlerFunc{protostar.JobIngest: q.handle})
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	defer srv.Stop()
	paced, err := q.paced(ctx)
	if err != nil {
		return nil, err
	}
	burst, burstSecs, enqueueSecs, err := q.burst(ctx)
	if err != nil {
		return nil, err
	}
	n := q.n
	params := map[string]any{
		"jobs": n, "handler": "no-op", "concurrency": defaultWorkerConcurrency, "poll_interval_ms": ms(queuePollInterval),
		"latency_arrivals":   "one job every 2 ms (500/s)",
		"paced":              paced.describe(),
		"burst":              merge(burst.describe(), map[string]any{"seconds": round(burstSecs), "producers": 8}),
		"enqueue_jobs_per_s": round(float64(n) / enqueueSecs),
		"method":             "internal/queue Client.Enqueue and Server (asynq) on a private redis-server, in process",
	}
	p50 := newResult("queue/latency/p50", ms(paced.quantile(0.5)), "ms", "config/poll_interval", ms(queuePollInterval), params)
	p99 := newResult("queue/latency/p99", ms(paced.quantile(0.99)), "ms", "config/poll_interval", ms(queuePollInterval), params)
	tput := newResult("queue/throughput", float64(n)/burstSecs, "jobs/s", "queue/enqueue_rate", float64(n)/enqueueSecs, params)
	return []Result{p50.withTarget("<= 100 ms", p50.Value <= 100), p99, tput}, nil
}

// queueProbe enqueues n no-op jobs per phase and records when each was
// enqueued and when a worker started it.
type queueProbe struct {
	client            *queue.Client
	n                 int
	enqueued, started [2][]atomic.Int64
	count             [2]atomic.Int64
}

func newQueueProbe(client *queue.Client, n int) *queueProbe {
	q := &queueProbe{client: client, n: n}
	for p := range 2 {
		q.enqueued[p], q.started[p] = make([]atomic.Int64, n), make([]atomic.Int64, n)
	}
	return q
}

// handle is the jobs' handler: it records the start.
func (q *queueProbe) handle(_ context.Context, jobID string) error {
	now := time.Now().UnixNano()
	p, i, err := parseJobID(jobID)
	if err != nil {
		return err
	}
	q.started[p][i].Store(now)
	q.count[p].Add(1)
	return nil
}

func (q *queueProbe) enqueue(ctx context.Context, p, i int) error {
	q.enqueued[p][i].Store(time.Now().UnixNano())
	return q.client.Enqueue(ctx, protostar.Job{ID: fmt.Sprintf("bench-%d-%06d", p, i), Type: protostar.JobIngest})
}

func (q *queueProbe) wait(ctx context.Context, p int) error {
	return testenv.Poll(ctx, time.Minute, fmt.Sprintf("%d jobs to start", q.n), func() (bool, error) {
		return q.count[p].Load() >= int64(q.n), nil
	})
}

func (q *queueProbe) latencies(p int) latencies {
	out := make(latencies, q.n)
	for i := range q.n {
		out[i] = time.Duration(q.started[p][i].Load() - q.enqueued[p][i].Load())
	}
	return out
}

// paced is phase 0, latency: jobs arrive one every 2 ms (500/s), well below
// what the workers can take, so the figure is the pick-up delay.
func (q *queueProbe) paced(ctx context.Context) (latencies, error) {
	const gap = 2 * time.Millisecond
	t0 := time.Now()
	for i := range q.n {
		if d := time.Until(t0.Add(time.Duration(i) * gap)); d > 0 {
			time.Sleep(d)
		}
		if err := q.enqueue(ctx, 0, i); err != nil {
			return nil, err
		}
	}
	if err := q.wait(ctx, 0); err != nil {
		return nil, err
	}
	return q.latencies(0), nil
}

// burst is phase 1, throughput: all jobs at once from eight producers. It
// returns the latencies, the seconds until the last start and the seconds
// the enqueueing took.
func (q *queueProbe) burst(ctx context.Context) (latencies, float64, float64, error) {
	start := time.Now()
	err := forEach(ctx, q.n, 8, func(ctx context.Context, i int) error { return q.enqueue(ctx, 1, i) })
	if err != nil {
		return nil, 0, 0, err
	}
	enqueueSecs := time.Since(start).Seconds()
	if err := q.wait(ctx, 1); err != nil {
		return nil, 0, 0, err
	}
	var last int64
	for i := range q.n {
		last = max(last, q.started[1][i].Load())
	}
	return q.latencies(1), time.Duration(last - start.UnixNano()).Seconds(), enqueueSecs, nil
}

func parseJobID(id string) (phase, index int, err error) {
	parts := strings.Split(id, "-")
	if len(parts) != 3 || parts[0] != "bench" {
		return 0, 0, fmt.Errorf("unexpected job id %q", id)
	}
	if phase, err = strconv.Atoi(parts[1]); err != nil {
		return 0, 0, err
	}
	index, err = strconv.Atoi(parts[2])
	return phase, index, err
}
