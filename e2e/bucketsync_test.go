package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/protostar/protostar/internal/testenv"
)

const s3EventsToken = "s3-events-token-0123456789"

// bucketStack is a stack whose private MinIO sends its bucket
// notifications to the API at apiAddr, known before either starts.
type bucketStack struct {
	*stack
	minio   *testenv.MinIO
	apiAddr string
	mc      *minio.Client
}

func newBucketStack(t *testing.T, extraEnv ...string) *bucketStack {
	t.Helper()
	apiAddr := fmt.Sprintf("127.0.0.1:%d", testenv.Port(t))
	m := testenv.NewMinIO(t, testenv.NotifyEnv("http://"+apiAddr+"/v1/s3-events", s3EventsToken, t.TempDir())...)
	s := newStack(t, append([]string{"PROTOSTAR_S3_WATCH=true", "PROTOSTAR_S3_EVENTS_TOKEN=" + s3EventsToken}, extraEnv...)...)
	s.S3 = m.S3()
	mc, err := minio.New(s.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.S3.AccessKey, s.S3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return &bucketStack{stack: s, minio: m, apiAddr: apiAddr, mc: mc}
}

// startAPI runs `protostar all` on the address MinIO notifies, and waits
// until the bucket's notifications point at it.
func (b *bucketStack) startAPI() *proc {
	b.t.Helper()
	p := b.start("all", "PROTOSTAR_HTTP_ADDR="+b.apiAddr)
	testenv.WaitFor(b.t, 20*time.Second, "the bucket notifications to be set", func() bool {
		return p.logged("bucket notifications sent to target")
	})
	return p
}

// put writes an object as the NestJS app would: straight into MinIO.
func (b *bucketStack) put(key, body string, meta map[string]string) {
	b.t.Helper()
	_, err := b.mc.PutObject(context.Background(), b.S3.Bucket, key, strings.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "text/markdown", UserMetadata: meta})
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b *bucketStack) remove(key string) {
	b.t.Helper()
	if err := b.mc.RemoveObject(context.Background(), b.S3.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		b.t.Fatal(err)
	}
}

// docByKey returns the tenant's live document of key, if any.
func docByKey(t *testing.T, p *proc, apiKey, key string) (docJSON, bool) {
	t.Helper()
	code, body := p.get("/v1/documents?key="+url.QueryEscape(key), apiKey)
	if code != http.StatusOK {
		t.Fatalf("list documents: %d %s", code, short(body))
	}
	docs := decode[struct{ Documents []docJSON }](t, body).Documents
	if len(docs) > 1 {
		t.Fatalf("%d documents with key %q", len(docs), key)
	}
	if len(docs) == 0 {
		return docJSON{}, false
	}
	return docs[0], true
}

// waitReady waits until key's document is ready at a version above after.
func waitReady(t *testing.T, p *proc, apiKey, key string, after int) docJSON {
	t.Helper()
	var d docJSON
	testenv.WaitFor(t, 10*time.Second, key+" to be ready", func() bool {
		var ok bool
		d, ok = docByKey(t, p, apiKey, key)
		return ok && d.Status == "ready" && d.Version > after
	})
	return d
}

func hits(t *testing.T, p *proc, apiKey, query string) []string {
	t.Helper()
	var keys []string
	for _, r := range p.search(apiKey, map[string]any{"query": query}).Results {
		keys = append(keys, r.Key)
	}
	return keys
}

// appliedOutcome reads protostar_s3_events_applied_total{outcome}.
func appliedOutcome(t *testing.T, p *proc, outcome string) float64 {
	t.Helper()
	return metricValue(t, p, `protostar_s3_events_applied_total{outcome="`+outcome+`"}`)
}

func metricValue(t *testing.T, p *proc, series string) float64 {
	t.Helper()
	_, body := p.get("/metrics", "")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// TestBucketSyncFollowsTheBucket: objects written to and removed from a
// tenant's prefix of the bucket, with no API call, become and stop being
// documents within seconds, through MinIO's webhook target.
func TestBucketSyncFollowsTheBucket(t *testing.T) {
	t.Parallel()
	b := newBucketStack(t)
	p := b.startAPI()

	const key = "회의록/2026 인프라 점검.md"
	b.put("acme/"+key, "# 인프라 점검\n\nkubelet 인증서 갱신 절차를 정리했다. rotation window is Tuesday.\n",
		map[string]string{"team": "infra"})
	d := waitReady(t, p, keyA, key, 0)
	if d.Metadata["team"] != "infra" {
		t.Errorf("metadata = %v, want team=infra from x-amz-meta-team", d.Metadata)
	}
	if code, body := p.get("/v1/documents/"+d.ID, keyA); !bytes.Contains(body, []byte(`"source":"event"`)) {
		t.Errorf("document: %d %s, want source event", code, short(body))
	}
	if got := hits(t, p, keyA, "kubelet 인증서"); len(got) == 0 || got[0] != key {
		t.Errorf("search hits %v, want %q first", got, key)
	}
	if _, ok := docByKey(t, p, keyB, key); ok {
		t.Error("tenant beta sees acme's object")
	}

	// Overwritten: the new version is indexed.
	b.put("acme/"+key, "# 인프라 점검\n\netcd 백업 복구 훈련 결과. restore took 4 minutes.\n", map[string]string{"team": "infra"})
	d2 := waitReady(t, p, keyA, key, d.Version)
	if got := hits(t, p, keyA, "etcd 백업 복구"); len(got) == 0 || got[0] != key {
		t.Errorf("after overwrite, search hits %v", got)
	}

	// Events arrive at least once and unordered: the same event again and
	// an older one after a newer change nothing.
	stale := appliedOutcome(t, p, "stale")
	event := func(name, seq string) map[string]any {
		return map[string]any{"Records": []any{map[string]any{"eventName": name, "s3": map[string]any{
			"bucket": map[string]any{"name": b.S3.Bucket},
			"object": map[string]any{"key": url.QueryEscape("acme/" + key), "sequencer": seq}}}}}
	}
	for _, ev := range []map[string]any{event("s3:ObjectRemoved:Delete", "0000000000000001"),
		event("s3:ObjectRemoved:Delete", "0000000000000001")} {
		if code, body := p.do(http.MethodPost, "/v1/s3-events", s3EventsToken, ev); code != http.StatusOK {
			t.Fatalf("post event: %d %s", code, short(body))
		}
	}
	testenv.WaitFor(t, 10*time.Second, "the late events to be applied", func() bool {
		return appliedOutcome(t, p, "stale") >= stale+2
	})
	if d3, ok := docByKey(t, p, keyA, key); !ok || d3.Version != d2.Version || d3.Status != "ready" {
		t.Fatalf("after a late removal event: %+v (found %v), want version %d ready", d3, ok, d2.Version)
	}

	// A forged event is refused; the token never names a tenant: the key's
	// prefix does, and an unknown prefix is ignored.
	if code, _ := p.do(http.MethodPost, "/v1/s3-events", keyA, event("s3:ObjectRemoved:Delete", "FFFFFFFFFFFFFFFF")); code != http.StatusUnauthorized {
		t.Errorf("event with a tenant key: %d, want 401", code)
	}
	b.put("beta/notes.md", "# beta\n\nbeta's own notes\n", nil)
	b.put("nobody/notes.md", "# nobody\n\nno tenant\n", nil)
	waitReady(t, p, keyB, "notes.md", 0)
	testenv.WaitFor(t, 10*time.Second, "the unknown tenant's event to be ignored", func() bool {
		return appliedOutcome(t, p, "ignored") >= 1
	})
	if _, ok := docByKey(t, p, keyA, "notes.md"); ok {
		t.Error("acme got beta's object")
	}

	// Removed: it leaves search results.
	b.remove("acme/" + key)
	testenv.WaitFor(t, 10*time.Second, "the removed object's document to go", func() bool {
		_, ok := docByKey(t, p, keyA, key)
		return !ok
	})
	if got := hits(t, p, keyA, "etcd 백업 복구"); len(got) != 0 {
		t.Errorf("after removal, search hits %v", got)
	}

	// An upload through the API is protostar's own write: its notification
	// does not start a second version.
	own := appliedOutcome(t, p, "own_write")
	if code, body := p.upload("uploaded.md", keyA, []byte("# uploaded\n\nby the API\n")); code != http.StatusAccepted {
		t.Fatalf("upload: %d %s", code, short(body))
	}
	testenv.WaitFor(t, 10*time.Second, "the upload's notification to be known as protostar's own", func() bool {
		return appliedOutcome(t, p, "own_write") > own
	})
	if d := waitReady(t, p, keyA, "uploaded.md", 0); d.Version != 1 {
		t.Errorf("uploaded document at version %d, want 1", d.Version)
	}
}

// bucketKeys returns the tenant's document keys with their status.
func bucketKeys(t *testing.T, p *proc, apiKey string) map[string]string {
	t.Helper()
	out := map[string]string{}
	cursor := ""
	for {
		code, body := p.get("/v1/documents?limit=100"+cursor, apiKey)
		if code != http.StatusOK {
			t.Fatalf("list documents: %d %s", code, short(body))
		}
		page := decode[struct {
			Documents  []docJSON
			NextCursor string `json:"next_cursor"`
		}](t, body)
		for _, d := range page.Documents {
			out[d.Key] = d.Status
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = "&cursor=" + url.QueryEscape(page.NextCursor)
	}
}

// allReady reports whether the tenant's documents are exactly keys, all
// ready.
func allReady(t *testing.T, p *proc, apiKey string, keys map[string]bool) bool {
	got := bucketKeys(t, p, apiKey)
	if len(got) != len(keys) {
		return false
	}
	for k, status := range got {
		if !keys[k] || status != "ready" {
			return false
		}
	}
	return true
}

// TestBucketSyncCatchesUpAfterDowntime: objects put and removed while
// protostar is down are in the index once it is back: MinIO keeps the
// events in its queue directory and sends them again.
func TestBucketSyncCatchesUpAfterDowntime(t *testing.T) {
	t.Parallel()
	b := newBucketStack(t)
	p := b.startAPI()
	want := map[string]bool{}
	for i := range 5 {
		key := fmt.Sprintf("old/%02d.md", i)
		b.put("acme/"+key, fmt.Sprintf("# old %d\n\nkept until the outage\n", i), nil)
	}
	testenv.WaitFor(t, 20*time.Second, "the first objects to be ready", func() bool {
		return len(bucketKeys(t, p, keyA)) == 5
	})
	p.Stop()
	for i := range 20 {
		key := fmt.Sprintf("new/%02d.md", i)
		b.put("acme/"+key, fmt.Sprintf("# new %d\n\nwritten while protostar was down: 장애 중 작성 %d\n", i, i), nil)
		want[key] = true
	}
	for i := range 5 {
		b.remove(fmt.Sprintf("acme/old/%02d.md", i))
	}
	p = b.startAPI()
	testenv.WaitFor(t, 60*time.Second, "the index to match the bucket", func() bool { return allReady(t, p, keyA, want) })
}

// TestReconcileAlone: with no notifications at all, a reconciliation
// brings a bucket of 500 objects into the index, a second one changes
// nothing, and a third repairs what changed meanwhile; the periodic
// schedule starts them by itself.
func TestReconcileAlone(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	objects := s.objects()
	ctx := context.Background()
	testenv.WaitFor(t, 20*time.Second, "the bucket to be created", func() bool { return objects.Ping(ctx) == nil })
	want := map[string]bool{}
	for i := range 500 {
		key := fmt.Sprintf("bulk/%03d.md", i)
		body := fmt.Sprintf("# doc %d\n\nreconciled object number %d, 대조 문서 %d\n", i, i, i)
		if _, err := objects.Put(ctx, "acme/"+key, strings.NewReader(body), int64(len(body)), "text/markdown"); err != nil {
			t.Fatal(err)
		}
		want[key] = true
	}
	body := "not markdown"
	if _, err := objects.Put(ctx, "acme/image.png", strings.NewReader(body), int64(len(body)), "image/png"); err != nil {
		t.Fatal(err)
	}
	sync := func() syncJSON {
		t.Helper()
		code, body := p.do(http.MethodPost, "/v1/sync", keyA, nil)
		if code != http.StatusAccepted {
			t.Fatalf("sync: %d %s", code, short(body))
		}
		j := decode[syncJSON](t, body)
		testenv.WaitFor(t, 120*time.Second, "the sync job", func() bool {
			_, body := p.get("/v1/jobs/"+j.ID, keyA)
			j = decode[syncJSON](t, body)
			return j.Status == "succeeded" || j.Status == "failed"
		})
		if j.Status != "succeeded" {
			t.Fatalf("sync job: %+v", j)
		}
		return j
	}
	if r := sync().Result; r.Listed != 500 || r.Ingested != 500 {
		t.Fatalf("first sync: %+v, want 500 listed and ingested", r)
	}
	testenv.WaitFor(t, 120*time.Second, "500 ready documents", func() bool { return allReady(t, p, keyA, want) })
	if r := sync().Result; r.Listed != 500 || r.Unchanged != 500 || r.Ingested+r.Reingested+r.Deleted+r.Skipped != 0 {
		t.Fatalf("second sync: %+v, want 500 unchanged and nothing else", r)
	}

	// Changed behind protostar's back: three overwritten, two removed.
	for i := range 3 {
		body := fmt.Sprintf("# doc %d\n\nrewritten\n", i)
		if _, err := objects.Put(ctx, fmt.Sprintf("acme/bulk/%03d.md", i), strings.NewReader(body), int64(len(body)), "text/markdown"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 498; i < 500; i++ {
		if err := objects.Delete(ctx, fmt.Sprintf("acme/bulk/%03d.md", i)); err != nil {
			t.Fatal(err)
		}
		delete(want, fmt.Sprintf("bulk/%03d.md", i))
	}
	p.Stop()
	p = s.start("all", "PROTOSTAR_S3_RECONCILE_INTERVAL=2s")
	var last syncJSON
	testenv.WaitFor(t, 30*time.Second, "a scheduled sync to repair the differences", func() bool {
		_, body := p.get("/v1/jobs?limit=5", keyA)
		for _, j := range decode[struct{ Jobs []syncJSON }](t, body).Jobs {
			if j.Type == "sync" && j.Status == "succeeded" && j.Result.Deleted == 2 {
				last = j
				return true
			}
		}
		return false
	})
	if r := last.Result; r.Reingested != 3 || r.Listed != 498 {
		t.Errorf("scheduled sync: %+v, want 3 re-ingested of 498", r)
	}
	testenv.WaitFor(t, 60*time.Second, "the index to match the bucket", func() bool { return allReady(t, p, keyA, want) })
}

type syncJSON struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Result struct {
		Listed, Ingested, Reingested, Deleted, Unchanged, Skipped int
	} `json:"result"`
}
