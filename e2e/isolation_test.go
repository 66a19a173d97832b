package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar/internal/testenv"
)

// openAPIOp is the part of an OpenAPI operation the probe needs.
type openAPIOp struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	RequestBody *struct {
		Required bool `json:"required"`
	} `json:"requestBody"`
}

// probeOp is one operation of the API to walk with tenant B's key.
type probeOp struct {
	method, path string
	openAPIOp
}

// v1Operations lists every /v1 operation of the served OpenAPI document.
func v1Operations(t *testing.T, p *proc) []probeOp {
	t.Helper()
	code, raw := p.get("/openapi.json", "")
	if code != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", code)
	}
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	var ops []probeOp
	for _, path := range slices.Sorted(maps.Keys(spec.Paths)) {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for _, method := range slices.Sorted(maps.Keys(spec.Paths[path])) {
			m := strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, m) {
				continue // e.g. shared "parameters"
			}
			op := probeOp{method: m, path: path}
			if err := json.Unmarshal(spec.Paths[path][method], &op.openAPIOp); err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
	}
	if len(ops) < 10 {
		t.Fatalf("only %d /v1 operations in /openapi.json", len(ops))
	}
	return ops
}

// tenantA is what tenant A owns and tenant B must never see or touch.
type tenantA struct {
	fixtures
	jobIDs        []string // ingest and summary jobs
	docCursor     string   // next_cursor of A's document listing
	jobCursor     string   // next_cursor of A's job listing
	secrets       []string // strings that must never reach tenant B
	contentHashes []string
	webhookID     string // A's (disabled) webhook endpoint
	deliveryID    string // one of its deliveries, attempted once
	keyID         string // a key A stored
	keySecrets    []string
}

// seedWebhook gives tenant A an endpoint with one delivery that has been
// attempted, then disables the endpoint so nothing changes while B probes.
func seedWebhook(t *testing.T, p *proc) (webhookID, deliveryID string) {
	t.Helper()
	hook := p.createWebhook(keyA, webhookURLA, "document.ready")
	code, body := p.do(http.MethodPost, "/v1/webhooks/"+hook.Webhook.ID+"/test", keyA, nil)
	if code != http.StatusAccepted {
		t.Fatalf("test event: %d %s", code, short(body))
	}
	deliveryID = decode[struct {
		ID string `json:"delivery_id"`
	}](t, body).ID
	testenv.WaitFor(t, 30*time.Second, "A's test delivery to be attempted", func() bool {
		_, body := p.get("/v1/webhooks/"+hook.Webhook.ID+"/deliveries", keyA)
		return bytes.Contains(body, []byte(`"attempts":[{`))
	})
	if code, body := p.do(http.MethodPatch, "/v1/webhooks/"+hook.Webhook.ID, keyA, map[string]any{"enabled": false}); code != http.StatusOK {
		t.Fatalf("disable: %d %s", code, short(body))
	}
	return hook.Webhook.ID, deliveryID
}

// webhookURLA is tenant A's endpoint: an address that does not resolve, so
// its delivery fails without leaving the machine.
const webhookURLA = "https://acme-secret-hooks.invalid/protostar"

func seedIsolation(t *testing.T, p *proc) tenantA {
	t.Helper()
	a := tenantA{fixtures: seedTenantA(t, p)}
	second := p.mustUpload("secret/board-minutes.md", keyA, []byte("# Board minutes\n\nThe board approved Project Gemini, budget 4.2 million.\n"))
	p.waitJob(second.Job.ID, keyA, 60*time.Second)
	code, body := p.do(http.MethodPost, "/v1/documents/"+a.fixtures["docA"]+"/summary", keyA, map[string]string{"length": "short"})
	if code != http.StatusAccepted {
		t.Fatalf("summary request: %d %s", code, body)
	}
	sumJob := decode[summaryJSON](t, body).Job.ID
	p.waitJob(sumJob, keyA, 60*time.Second)
	a.jobIDs = []string{a.fixtures["jobA"], second.Job.ID, sumJob}
	a.webhookID, a.deliveryID = seedWebhook(t, p)
	code, body = p.do(http.MethodPost, "/v1/keys", keyA, map[string]string{"name": "acme-secret-key-name"})
	if code != http.StatusCreated {
		t.Fatalf("create A's key: %d %s", code, short(body))
	}
	k := decode[keyJSON](t, body)
	a.keyID = k.Key.ID
	a.keySecrets = []string{k.Key.ID, k.Key.Prefix, k.Secret, "acme-secret-key-name"}

	type page struct {
		Next string `json:"next_cursor"`
	}
	_, docs := p.get("/v1/documents?limit=1", keyA)
	_, jobs := p.get("/v1/jobs?limit=1", keyA)
	a.docCursor, a.jobCursor = decode[page](t, docs).Next, decode[page](t, jobs).Next
	if a.docCursor == "" || a.jobCursor == "" {
		t.Fatalf("tenant A's listings have no next_cursor: %s / %s", docs, jobs)
	}
	for _, id := range []string{a.fixtures["docA"], second.Document.ID} {
		a.contentHashes = append(a.contentHashes, p.doc(id, keyA).ContentHash)
	}
	a.secrets = append([]string{a.fixtures["docA"], second.Document.ID, a.fixtures["objA"], "secret/board-minutes.md",
		"Initech", "인수 계획", "Gemini", "ledger", keyA, a.webhookID, a.deliveryID, "acme-secret-hooks"}, a.jobIDs...)
	a.secrets = append(a.secrets, a.contentHashes...)
	a.secrets = append(a.secrets, a.keySecrets...)
	return a
}

// leaks returns the secrets of A that appear in body.
func (a tenantA) leaks(body []byte) []string {
	var found []string
	for _, s := range a.secrets {
		if bytes.Contains(body, []byte(s)) {
			found = append(found, s)
		}
	}
	return found
}

// requestInstance is the request id a problem body carries as its instance.
var requestInstance = regexp.MustCompile(`urn:protostar:request:[0-9A-Za-z._:-]+`)

// TestTenantIsolationProbe walks every /v1 operation of the OpenAPI
// document with tenant B's key against tenant A's ids, keys and cursors.
// Per-id operations must answer exactly as for an id that never existed
// (404, not 403); collection operations must show nothing of A; and A's
// rows and objects must be unchanged afterwards. An operation the rules
// below do not cover fails the test, so a new endpoint cannot slip by.
func TestTenantIsolationProbe(t *testing.T) {
	t.Parallel()
	s := newStack(t, secretKeyEnv)
	p := s.start("all")
	a := seedIsolation(t, p)
	before := snapshot(t, s, "acme")

	// Bodies for operations with a request body, by operationId. Per-id
	// operations need one only if they take a body.
	bodies := map[string]any{
		"summarize-document": map[string]string{"length": "short"},
		"update-webhook":     map[string]any{"description": "B was here", "enabled": true},
	}
	// Collection operations (no path parameter): each probe sends B's
	// request and checks the 2xx answer holds nothing of A.
	type probe struct {
		query string
		body  any
	}
	collections := map[string][]probe{
		"list-documents": {{}, {query: "key=" + url.QueryEscape(a.fixtures["objA"])}, {query: "cursor=" + a.docCursor}, {query: "status=ready&limit=100"}},
		"list-jobs":      {{}, {query: "cursor=" + a.jobCursor}, {query: "status=succeeded&limit=100"}},
		"search": {
			{body: map[string]any{"query": "Initech acquisition ledger backup 인수 계획"}},
			{body: map[string]any{"query": "Initech", "mode": "keyword", "filter": map[string]any{"document_ids": []string{a.fixtures["docA"]}}}},
			{body: map[string]any{"query": "ledger", "mode": "vector", "filter": map[string]any{"key_prefix": "secret/"}}},
		},
		"answer": {
			{body: map[string]any{"question": "When does the Initech acquisition close?"}},
			{body: map[string]any{"question": "What did the board approve?", "stream": true, "filter": map[string]any{"document_ids": []string{a.fixtures["docA"]}}}},
		},
		// Creating is probed last, in its own step below: B posting A's
		// object key must get B's own document, never A's.
		"create-document": nil,
		"list-webhooks":   {{}},
		"list-keys":       {{}},
		"create-key":      {{body: map[string]any{"name": "beta's key"}}},
		"create-webhook":  {{body: map[string]any{"url": "https://beta-hooks.invalid/protostar"}}},
		// B's reconciliation lists B's prefix only; the snapshot below
		// shows it left A's documents and objects alone.
		"sync-bucket": {{}},
	}

	ops := v1Operations(t, p)
	covered := 0
	for _, op := range ops {
		name := op.method + " " + op.path + " (" + op.OperationID + ")"
		if op.path == "/v1/tenants" || strings.HasPrefix(op.path, "/v1/tenants/") || strings.HasPrefix(op.path, "/v1/embedding-spaces") {
			// Platform keys only: a tenant key is refused whatever it names.
			covered++
			target := strings.Replace(op.path, "{id}", "acme", 1)
			if strings.HasPrefix(op.path, "/v1/embedding-spaces") {
				target = strings.Replace(op.path, "{id}", "1", 1)
			}
			if code, body := p.do(op.method, target, keyB, map[string]any{"id": "acme"}); code != http.StatusForbidden {
				t.Errorf("tenant B %s: %d %s, want 403", name, code, short(body))
			}
			continue
		}
		var pathParams []string
		for _, prm := range op.Parameters {
			if prm.In == "path" {
				pathParams = append(pathParams, prm.Name)
			}
		}
		if len(pathParams) == 0 {
			probes, ok := collections[op.OperationID]
			if !ok {
				t.Errorf("%s is not covered by the isolation probe: add it to collections", name)
				continue
			}
			covered++
			for _, pr := range probes {
				target := op.path
				if pr.query != "" {
					target += "?" + pr.query
				}
				code, body := p.do(op.method, target, keyB, pr.body)
				if code < 200 || code > 299 {
					t.Errorf("tenant B %s %s: %d %s, want 2xx", op.method, target, code, short(body))
				}
				if l := a.leaks(body); len(l) > 0 {
					t.Errorf("tenant B %s %s shows tenant A's %q: %s", op.method, target, l, short(body))
				}
			}
			continue
		}
		path := op.path
		if slices.Equal(pathParams, []string{"id", "delivery"}) && strings.HasPrefix(path, "/v1/webhooks/{id}/") {
			path = strings.Replace(path, "{delivery}", a.deliveryID, 1)
		} else if !slices.Equal(pathParams, []string{"id"}) {
			t.Errorf("%s has path parameters %v the probe does not know", name, pathParams)
			continue
		}
		var ids []string
		switch {
		case strings.HasPrefix(op.path, "/v1/documents/{id}"):
			ids = []string{a.fixtures["docA"]}
		case strings.HasPrefix(op.path, "/v1/jobs/{id}"):
			ids = a.jobIDs
		case strings.HasPrefix(op.path, "/v1/webhooks/{id}"):
			ids = []string{a.webhookID}
		case strings.HasPrefix(op.path, "/v1/keys/{id}"):
			ids = []string{a.keyID}
		default:
			t.Errorf("%s: the probe does not know what kind of id {id} is", name)
			continue
		}
		body, hasBody := bodies[op.OperationID]
		if op.RequestBody != nil && op.RequestBody.Required && !hasBody {
			t.Errorf("%s takes a body: add a valid minimal one to bodies", name)
			continue
		}
		covered++
		for _, id := range ids {
			code, got := p.do(op.method, strings.Replace(path, "{id}", id, 1), keyB, body)
			never := "00000000-0000-4000-8000-" + fmt.Sprintf("%012d", time.Now().UnixNano()%1e12)
			wantCode, want := p.do(op.method, strings.Replace(path, "{id}", never, 1), keyB, body)
			if code != http.StatusNotFound {
				t.Errorf("tenant B %s with A's id: %d %s, want 404", name, code, short(got))
			}
			// Indistinguishable from an id that never existed.
			// Each answer names its own request (instance), which differs.
			gotN := requestInstance.ReplaceAllString(strings.ReplaceAll(string(got), id, "<id>"), "<request>")
			wantN := requestInstance.ReplaceAllString(strings.ReplaceAll(string(want), never, "<id>"), "<request>")
			if code != wantCode || gotN != wantN {
				t.Errorf("tenant B %s: A's id answers %d %s, a never-used id %d %s", name, code, short([]byte(gotN)), wantCode, short([]byte(wantN)))
			}
			if l := a.leaks([]byte(gotN)); len(l) > 0 {
				t.Errorf("tenant B %s shows tenant A's %q: %s", name, l, short(got))
			}
		}
	}
	if covered == 0 {
		t.Fatal("the probe covered no operation")
	}

	// B posts A's object key, as JSON (ingest an existing object) and as an
	// upload: B gets its own document, and neither A's object nor A's
	// content reaches B.
	code, body := p.do(http.MethodPost, "/v1/documents", keyB, map[string]any{"key": a.fixtures["objA"]})
	if code != http.StatusAccepted {
		t.Fatalf("tenant B posting A's key: %d %s", code, body)
	}
	acc := decode[accepted](t, body)
	if acc.Document.ID == a.fixtures["docA"] || acc.Document.Version != 1 {
		t.Errorf("tenant B posting A's key got A's document: %+v", acc.Document)
	}
	j := p.waitJob(acc.Job.ID, keyB, 60*time.Second)
	d := p.doc(acc.Document.ID, keyB)
	if slices.Contains(a.contentHashes, d.ContentHash) || j.Result.BytesRead > 0 {
		t.Errorf("tenant B read tenant A's object by naming its key %q: object keys are not scoped by tenant (B's job read %d bytes, content %s)",
			a.fixtures["objA"], j.Result.BytesRead, d.ContentHash)
	}
	for _, mode := range []string{"hybrid", "vector", "keyword"} {
		res := p.search(keyB, map[string]any{"query": "Initech acquisition ledger", "mode": mode})
		for _, r := range res.Results {
			if l := a.leaks([]byte(r.Text)); len(l) > 0 {
				t.Errorf("tenant B's %s search returns tenant A's text %q", mode, l)
				break
			}
		}
	}
	up := p.mustUpload(a.fixtures["objA"], keyB, []byte("# B's own file\n\nNothing to see.\n"))
	p.waitJob(up.Job.ID, keyB, 60*time.Second)

	after := snapshot(t, s, "acme")
	for key, etag := range before.Objects {
		if after.Objects[key] != etag {
			t.Errorf("tenant B's upload replaced tenant A's object %q (%q → %q): object keys are not scoped by tenant", key, etag, after.Objects[key])
		}
	}
	before.Objects, after.Objects = nil, nil
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("tenant B's probe changed tenant A's rows (-before +after):\n%s", diff)
	}
	if r := p.search(keyA, map[string]any{"query": "Initech acquisition", "mode": "keyword"}); len(r.Results) == 0 {
		t.Errorf("tenant A no longer finds its own document")
	}
}

// TestRateLimitPerKey: a key over its rate gets 429 problems with
// Retry-After, while another tenant's key keeps working.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve", "PROTOSTAR_RATE_LIMIT=5", "PROTOSTAR_RATE_BURST=5")

	var limited *answer
	for i := range 12 {
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/documents", nil)
		req.Header.Set("Authorization", "Bearer "+keyA)
		a, err := send(t, req)
		if err != nil {
			t.Fatal(err)
		}
		if i < 5 && a.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, a.status, a.body)
		}
		if a.status == http.StatusTooManyRequests {
			limited = &a
			break
		}
	}
	if limited == nil {
		t.Fatal("12 quick requests with a 5/s, burst 5 limit were never refused")
	}
	if err := checkProblem(*limited, http.StatusTooManyRequests); err != nil {
		t.Error(err)
	}
	retry, err := strconv.Atoi(limited.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Errorf("Retry-After = %q, want whole seconds ≥ 1", limited.header.Get("Retry-After"))
	}
	// Tenant B's key has its own bucket.
	for i := range 5 {
		if code, body := p.get("/v1/documents", keyB); code != http.StatusOK {
			t.Fatalf("tenant B request %d while A is limited: %d %s", i+1, code, body)
		}
	}
	// Failed authentication does not spend A's tokens, and A recovers.
	time.Sleep(time.Duration(retry) * time.Second)
	if code, body := p.get("/v1/documents", keyA); code != http.StatusOK {
		t.Errorf("tenant A after Retry-After: %d %s", code, body)
	}
}

// TestTenantJobCap: with no worker running, a tenant at its cap of active
// jobs gets 429 for new work, while another tenant can still submit.
func TestTenantJobCap(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve", "PROTOSTAR_TENANT_MAX_ACTIVE_JOBS=3")
	post := func(key, obj string) (int, []byte) {
		return p.do(http.MethodPost, "/v1/documents", key, map[string]any{"key": obj})
	}
	var first accepted
	for i := range 3 {
		code, body := post(keyA, fmt.Sprintf("cap/a%d.md", i))
		if code != http.StatusAccepted {
			t.Fatalf("tenant A job %d of 3: %d %s", i+1, code, body)
		}
		if i == 0 {
			first = decode[accepted](t, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/v1/documents", strings.NewReader(`{"key":"cap/a3.md"}`))
	req.Header.Set("Authorization", "Bearer "+keyA)
	req.Header.Set("Content-Type", "application/json")
	a, err := send(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkProblem(a, http.StatusTooManyRequests); err != nil {
		t.Errorf("tenant A's 4th job: %v", err)
	}
	if a.header.Get("Retry-After") == "" {
		t.Errorf("tenant A's 4th job: 429 without Retry-After")
	}
	if code, body := p.do(http.MethodPost, "/v1/documents/"+first.Document.ID+"/reindex", keyA, nil); code != http.StatusTooManyRequests {
		t.Errorf("tenant A's reindex at the cap: %d %s, want 429", code, short(body))
	}
	if code, body := post(keyB, "cap/b0.md"); code != http.StatusAccepted {
		t.Errorf("tenant B while A is at its cap: %d %s", code, body)
	}

	// The cap holds under concurrent submissions too: B has 1 active job,
	// so at most 2 of 8 simultaneous posts may be accepted.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses []int
	)
	for i := range 8 {
		wg.Go(func() {
			code, _ := post(keyB, fmt.Sprintf("cap/b-burst-%d.md", i))
			mu.Lock()
			statuses = append(statuses, code)
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := countOf(statuses, http.StatusAccepted); n != 2 || countOf(statuses, http.StatusTooManyRequests) != 6 {
		t.Errorf("8 concurrent posts by tenant B with 1 of 3 jobs active: statuses %v, want 2×202 and 6×429", statuses)
	}
}

func countOf(xs []int, x int) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// TestRateLimitsHoldAcrossReplicas: a key's bucket is shared by the
// replicas (Redis), so two replicas together admit one burst, not two; a
// tenant's bucket spans its keys; while Redis is down requests are still
// served, limited per process.
func TestRateLimitsHoldAcrossReplicas(t *testing.T) {
	t.Parallel()
	const keyA2 = "key-a2-0123456789abcdef"
	s := newStack(t, "PROTOSTAR_RATE_LIMIT=0.2", "PROTOSTAR_RATE_BURST=4",
		"PROTOSTAR_TENANT_RATE_LIMIT=0.2", "PROTOSTAR_TENANT_RATE_BURST=6",
		"PROTOSTAR_API_KEYS=acme:"+keyA+",acme:"+keyA2+",beta:"+keyB)
	p1, p2 := s.start("serve"), s.start("serve")
	admitted := func(key string, n int) int {
		ok := 0
		for i := range n {
			p := []*proc{p1, p2}[i%2]
			if code, _ := p.get("/v1/jobs", key); code == http.StatusOK {
				ok++
			}
		}
		return ok
	}
	if n := admitted(keyA, 10); n != 4 {
		t.Fatalf("10 requests of one key over two replicas admitted %d, want the shared burst of 4", n)
	}
	if n := admitted(keyA2, 10); n != 2 {
		t.Fatalf("the tenant's second key admitted %d, want the 2 left of the tenant's burst of 6", n)
	}
	if n := admitted(keyB, 3); n != 3 {
		t.Fatalf("another tenant admitted %d of 3", n)
	}
	s.Redis.Kill()
	if n := admitted(keyB, 4); n == 0 {
		t.Fatal("with Redis down every request was refused")
	}
	s.Redis.Restart(t)
}
