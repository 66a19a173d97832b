//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// scenarioPostgresRestart: Postgres is stopped (fast shutdown) mid-run and
// started again. The processes must recover without a restart, /readyz
// must show the outage and the recovery, and every accepted document must
// end ready with exactly its chunks.
func scenarioPostgresRestart(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{privatePG: true})
	w := newWorkload(c, "pg", sc.bigSections)
	pids := c.pids()
	ctx, stopWatch := context.WithCancel(context.Background())
	watches := make([]*readyWatch, len(c.serves))
	var wg sync.WaitGroup
	for i, p := range c.serves {
		watches[i] = &readyWatch{url: p.URL + "/readyz"}
		wg.Go(func() { watches[i].run(ctx) })
	}
	lead, tail := sc.lead, 2*sc.lead
	span := lead + sc.pgOutage + tail
	posting := postN(w, sc.pgDocs, float64(sc.pgDocs)/span.Seconds())
	wg.Go(func() { atRate(ctx, 5, func(i int) { w.search(i) }) })

	time.Sleep(lead) // let ingest get going before the fault
	c.pg.Stop()
	down := time.Now()
	t.Logf("postgres stopped")
	time.Sleep(sc.pgOutage)
	c.pg.Start()
	up := time.Now()
	t.Logf("postgres started again after %s", up.Sub(down).Round(100*time.Millisecond))
	posting()
	// Keep watching /readyz until it has said ok on every instance since
	// Postgres returned.
	deadline := time.Now().Add(time.Minute)
	for !allOKSince(watches, up) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stopWatch()
	wg.Wait()

	docs, jobs := w.ids()
	if _, err := c.waitSettled(3*time.Minute, docs); err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)

	restarted := c.restartedSince(t, pids, "during the Postgres restart")
	var outs, backs []string
	for i, rw := range watches {
		out, back, ok := rw.summary(down, up)
		if !ok {
			t.Errorf("serve-%d /readyz did not show the outage and the recovery: %s", i, rw)
			continue
		}
		outs = append(outs, out.Round(100*time.Millisecond).String())
		backs = append(backs, back.Round(100*time.Millisecond).String())
	}
	fig.add("Postgres stopped %s: /readyz 503 within %s and 200 again %s after the restart (each serve); %d of %d processes restarted",
		up.Sub(down).Round(100*time.Millisecond), strings.Join(outs, "/"), strings.Join(backs, "/"), restarted, len(c.procs()))
	fig.add("POST %d×202 %d×503, search %d×200 %d×503; %s", w.posts.count(202), w.posts.count(503),
		w.searches.count(200), w.searches.count(503), v)
	// During the outage 503 (with Retry-After) is the right answer; any
	// other failure is not.
	if n := w.posts.failed(http.StatusAccepted, http.StatusServiceUnavailable); n != 0 {
		t.Errorf("%d uploads failed other than 503: %s", n, &w.posts)
	}
	if n := w.searches.failed(http.StatusOK, http.StatusServiceUnavailable); n != 0 {
		t.Errorf("%d searches failed other than 503: %s", n, &w.searches)
	}
	if n := w.postsAcceptedAfter(up); n == 0 {
		t.Errorf("no upload accepted after Postgres returned")
	}
	requireClean(t, v)
}

func (w *workload) postsAcceptedAfter(at time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, a := range w.accepted {
		if a.After(at) {
			n++
		}
	}
	return n
}

// readyWatch polls a /readyz endpoint and keeps what it answered.
type readyWatch struct {
	url     string
	mu      sync.Mutex
	samples []readySample
}

type readySample struct {
	at     time.Time
	code   int
	status string
}

func (rw *readyWatch) run(ctx context.Context) {
	hc := http.Client{Timeout: 1500 * time.Millisecond}
	for ctx.Err() == nil {
		s := readySample{at: time.Now()}
		if resp, err := hc.Get(rw.url); err == nil {
			var body struct{ Status string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			s.code, s.status = resp.StatusCode, body.Status
		}
		rw.mu.Lock()
		rw.samples = append(rw.samples, s)
		rw.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// summary reports when after down /readyz first answered 503, and when
// after up it first answered 200 again; ok is false unless both happened.
func (rw *readyWatch) summary(down, up time.Time) (outageSeen, backAfter time.Duration, ok bool) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var saw503, sawBack bool
	for _, s := range rw.samples {
		switch {
		case !saw503 && s.at.After(down) && s.code == http.StatusServiceUnavailable:
			saw503, outageSeen = true, s.at.Sub(down)
		case saw503 && !sawBack && s.at.After(up) && s.code == http.StatusOK:
			sawBack, backAfter = true, s.at.Sub(up)
		}
	}
	return outageSeen, backAfter, saw503 && sawBack
}

func (rw *readyWatch) okSince(at time.Time) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	for _, s := range rw.samples {
		if s.at.After(at) && s.code == http.StatusOK {
			return true
		}
	}
	return false
}

func allOKSince(ws []*readyWatch, at time.Time) bool {
	for _, w := range ws {
		if !w.okSince(at) {
			return false
		}
	}
	return true
}

func (rw *readyWatch) String() string {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var b strings.Builder
	last := -1
	for _, s := range rw.samples {
		if s.code != last {
			fmt.Fprintf(&b, "%s %d %s; ", s.at.Format("15:04:05.000"), s.code, s.status)
			last = s.code
		}
	}
	return b.String()
}
