//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// lbClient does what a load balancer in front of the serve processes does:
// it spreads requests round-robin, and sends a request whose connection was
// refused (the instance is restarting) to the next instance. Any answer,
// including a 5xx, is returned as it is.
type lbClient struct {
	urls []string
	key  string
	hc   *http.Client
	rr   atomic.Uint64
}

func newLBClient(urls []string, key string) *lbClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &lbClient{urls: urls, key: key, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// outcome is the answer to one client request.
type outcome struct {
	status  int
	body    []byte
	err     error
	latency time.Duration
	refused int // connection-refused hops to another instance
	at      time.Time
}

func (o outcome) String() string {
	if o.err != nil {
		return "transport error: " + o.err.Error()
	}
	return fmt.Sprintf("%d %s", o.status, strings.TrimSpace(truncate(o.body, 300)))
}

// do sends one request; body is resent as is on a refused connection.
func (c *lbClient) do(ctx context.Context, method, path, contentType string, body []byte) outcome {
	start := time.Now()
	o := outcome{at: start}
	first := int(c.rr.Add(1))
	for hop := 0; ; hop++ {
		if hop >= len(c.urls) {
			// Every instance refused: wait a moment, as a balancer would.
			select {
			case <-ctx.Done():
				o.err = ctx.Err()
				o.latency = time.Since(start)
				return o
			case <-time.After(100 * time.Millisecond):
			}
		}
		u := c.urls[(first+hop)%len(c.urls)]
		req, err := http.NewRequestWithContext(ctx, method, u+path, bytes.NewReader(body))
		if err != nil {
			o.err = err
			return o
		}
		if body != nil {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		resp, err := c.hc.Do(req)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) && hop < 50 {
				o.refused++
				continue
			}
			o.err = err
			o.latency = time.Since(start)
			return o
		}
		o.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		o.status, o.latency = resp.StatusCode, time.Since(start)
		if err != nil {
			o.err = fmt.Errorf("read %d answer: %w", resp.StatusCode, err)
		}
		return o
	}
}

func (c *lbClient) postJSON(ctx context.Context, path string, v any) outcome {
	raw, err := json.Marshal(v)
	if err != nil {
		return outcome{err: err}
	}
	return c.do(ctx, http.MethodPost, path, "application/json", raw)
}

// tally counts the outcomes of one kind of request.
type tally struct {
	mu        sync.Mutex
	total     int
	codes     map[int]int
	transport int
	refused   int
	samples   []string
	lat       []time.Duration
	slowest   outcome // the slowest answered request
}

func (t *tally) record(o outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.codes == nil {
		t.codes = map[int]int{}
	}
	t.total++
	t.refused += o.refused
	if o.err != nil {
		t.transport++
	} else {
		t.codes[o.status]++
		t.lat = append(t.lat, o.latency)
		if o.latency > t.slowest.latency {
			t.slowest = o
		}
	}
	if (o.err != nil || o.status >= 300) && len(t.samples) < 5 {
		t.samples = append(t.samples, o.at.Format("15:04:05.000")+" "+o.String())
	}
}

// count returns how many answers had one of the codes.
func (t *tally) count(codes ...int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range codes {
		n += t.codes[c]
	}
	return n
}

// failed returns how many requests had no answer or an answer not in ok.
func (t *tally) failed(ok ...int) int {
	n := t.count(ok...)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total - n
}

// status5xx counts answers with a 5xx status.
func (t *tally) status5xx() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c, k := range t.codes {
		if c >= 500 {
			n += k
		}
	}
	return n
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	codes := make([]string, 0, len(t.codes))
	for c, n := range t.codes {
		codes = append(codes, fmt.Sprintf("%d×%d", n, c))
	}
	sort.Strings(codes)
	s := fmt.Sprintf("%d requests: %s", t.total, strings.Join(codes, " "))
	if t.transport > 0 {
		s += fmt.Sprintf(" %d×transport-error", t.transport)
	}
	if t.refused > 0 {
		s += fmt.Sprintf(" (%d refused connections retried on the other instance)", t.refused)
	}
	if len(t.samples) > 0 {
		s += "; e.g. " + strings.Join(t.samples, " | ")
	}
	return s
}

// slowestAt says when the slowest answered request was sent and how long
// it took.
func (t *tally) slowestAt() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("%s sent at %s", t.slowest.latency.Round(time.Millisecond), t.slowest.at.Format("15:04:05.000"))
}

// quantile returns the q-quantile of the answered requests' latency.
func (t *tally) quantile(q float64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lat) == 0 {
		return 0
	}
	s := slices.Clone(t.lat)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// atRate calls fn at a fixed rate until ctx ends, then waits for the calls
// in flight. It is open-loop: a slow answer does not delay the next call
// (up to 64 calls in flight).
func atRate(ctx context.Context, perSecond float64, fn func(i int)) {
	interval := time.Duration(float64(time.Second) / perSecond)
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 64)
	next := time.Now()
	for i := 0; ; i++ {
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
		next = next.Add(interval)
	}
}

// workload is the clients of a scenario: they upload documents and search,
// and remember what the service accepted.
type workload struct {
	c        *cluster
	prefix   string
	sections int // sections per document, varied ±50%
	posts    tally
	searches tally

	mu       sync.Mutex
	docIDs   []string
	jobIDs   []string
	accepted []time.Time
}

func newWorkload(c *cluster, prefix string, sections int) *workload {
	return &workload{c: c, prefix: prefix, sections: sections}
}

type acceptedJSON struct {
	Document struct {
		ID string `json:"id"`
	} `json:"document"`
	Job struct {
		ID string `json:"id"`
	} `json:"job"`
}

// post uploads document i as a multipart file.
func (w *workload) post(i int) outcome {
	return w.upload(w.key(i), markdownDoc(w.prefix, i, w.sections))
}

// key is document i's key.
func (w *workload) key(i int) string { return fmt.Sprintf("%s/doc-%05d.md", w.prefix, i) }

// upload sends content as a multipart file under key.
func (w *workload) upload(key string, content []byte) outcome {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("key", key)
	fw, _ := mw.CreateFormFile("file", "doc.md")
	_, _ = fw.Write(content)
	_ = mw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := w.c.client.do(ctx, http.MethodPost, "/v1/documents", mw.FormDataContentType(), body.Bytes())
	w.posts.record(o)
	if o.err == nil && o.status == http.StatusAccepted {
		w.remember(o)
	}
	return o
}

// postKey submits an object already in the bucket by its key.
func (w *workload) postKey(key string) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := w.c.client.postJSON(ctx, "/v1/documents", map[string]any{"key": key})
	w.posts.record(o)
	if o.err == nil && o.status == http.StatusAccepted {
		w.remember(o)
	}
	return o
}

func (w *workload) remember(o outcome) {
	var a acceptedJSON
	if err := json.Unmarshal(o.body, &a); err != nil || a.Document.ID == "" || a.Job.ID == "" {
		w.c.t.Errorf("202 answer without document and job: %s", truncate(o.body, 300))
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.docIDs = append(w.docIDs, a.Document.ID)
	w.jobIDs = append(w.jobIDs, a.Job.ID)
	w.accepted = append(w.accepted, o.at)
}

func (w *workload) ids() (docs, jobs []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.docIDs), slices.Clone(w.jobIDs)
}

var queries = []string{"데이터베이스 백업", "replication lag standby", "vector index recall", "검색 품질 인덱스",
	"restore drill", "노드 정상 동작", "WAL replicates", "장애 대응 절차"}

// search runs one hybrid search.
func (w *workload) search(i int) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := w.c.client.postJSON(ctx, "/v1/search", map[string]any{"query": queries[i%len(queries)], "top_k": 5})
	w.searches.record(o)
	return o
}

// markdownDoc generates document i of a workload: mixed Korean and English
// Markdown with about sections sections (varied per document) and a word
// unique to the document.
func markdownDoc(prefix string, i, sections int) []byte {
	n := max(1, sections/2+(i*7919)%(sections+1))
	var b strings.Builder
	fmt.Fprintf(&b, "# %s 문서 %d: runbook %d\n\nUnique marker marker%s%05d.\n\n", prefix, i, i, strings.ReplaceAll(prefix, "-", ""), i)
	for s := range n {
		fmt.Fprintf(&b, "## 섹션 %d: Section %d of document %d\n\n", s, s, i)
		fmt.Fprintf(&b, "데이터베이스 %d번 노드는 정상적으로 동작한다. Node %d replicates WAL to its standby every second; "+
			"replication lag stays below %d seconds. ", s, s, 5+(i+s)%20)
		fmt.Fprintf(&b, "검색 품질을 높이려면 인덱스를 점검해야 한다. The vector index %d keeps recall high when ef_search is %d.\n\n", s, 40+(i*s)%200)
		fmt.Fprintf(&b, "- 항목 %d: 백업 확인 (document %d)\n- item %d: restore drill, 장애 대응 절차 %d\n\n", s, i, s, i%13)
	}
	return []byte(b.String())
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
