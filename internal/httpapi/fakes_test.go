package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/answer"
	"github.com/protostar/protostar/internal/search"
)

// These fakes stand in for Postgres, MinIO, the queue and the AI services
// so that the tests here exercise request decoding and validation only;
// the system is tested for real in e2e/.

const (
	testKey   = "test-key-0123456789abcdef"
	knownDoc  = "11111111-1111-4111-8111-111111111111"
	knownJob  = "22222222-2222-4222-8222-222222222222"
	testLimit = 4096 // MaxJSONBytes and MaxUploadBytes of the test server
)

// calls records what reached the fakes, so tests can tell whether a
// refused request changed anything.
type calls struct {
	mu          sync.Mutex
	submissions []protostar.Submission
	puts        []string // the objects in the fake bucket, in the order they were stored
	searches    []protostar.SearchQuery
	answers     []answer.Request
	mutations   int // reindex, delete and summary requests that succeeded
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.submissions, c.puts, c.searches, c.answers, c.mutations = nil, nil, nil, nil, 0
}

type fakeStore struct{ c *calls }

func (f fakeStore) SubmitDocument(_ context.Context, s protostar.Submission) (protostar.Document, protostar.Job, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.submissions = append(f.c.submissions, s)
	return protostar.Document{ID: knownDoc, Key: s.Key, Status: protostar.DocumentPending, Metadata: s.Metadata},
		protostar.Job{ID: knownJob, Type: protostar.JobIngest, Status: protostar.JobQueued, DocumentID: knownDoc}, nil
}

func (f fakeStore) WithKeyLock(ctx context.Context, _, _ string, fn func(context.Context, bool) error) error {
	return fn(ctx, true)
}

func (f fakeStore) ReindexDocument(_ context.Context, _, id string, _, _ int) (protostar.Document, protostar.Job, error) {
	if id != knownDoc {
		return protostar.Document{}, protostar.Job{}, protostar.Errorf(protostar.ENOTFOUND, "document %s not found", id)
	}
	f.c.mu.Lock()
	f.c.mutations++
	f.c.mu.Unlock()
	return protostar.Document{ID: knownDoc}, protostar.Job{ID: knownJob}, nil
}

func (f fakeStore) Document(_ context.Context, _, id string) (protostar.Document, error) {
	if id != knownDoc {
		return protostar.Document{}, protostar.Errorf(protostar.ENOTFOUND, "document %s not found", id)
	}
	return protostar.Document{ID: knownDoc, Key: "notes/a.md", Metadata: []byte(`{}`)}, nil
}

func (f fakeStore) Documents(_ context.Context, _ string, fl protostar.DocumentFilter) ([]protostar.Document, string, error) {
	if fl.Cursor != "" {
		return nil, "", protostar.Errorf(protostar.EINVALID, "cursor is not valid")
	}
	return nil, "", nil
}

func (f fakeStore) DeleteDocument(_ context.Context, _, id string) error {
	if id != knownDoc {
		return protostar.Errorf(protostar.ENOTFOUND, "document %s not found", id)
	}
	f.c.mu.Lock()
	f.c.mutations++
	f.c.mu.Unlock()
	return nil
}

func (f fakeStore) Job(_ context.Context, _, id string) (protostar.Job, error) {
	if id != knownJob {
		return protostar.Job{}, protostar.Errorf(protostar.ENOTFOUND, "job %s not found", id)
	}
	return protostar.Job{ID: knownJob, Status: protostar.JobSucceeded}, nil
}

func (f fakeStore) Jobs(_ context.Context, _, _ string, _ int, cursor string) ([]protostar.Job, string, error) {
	if cursor != "" {
		return nil, "", protostar.Errorf(protostar.EINVALID, "cursor is not valid")
	}
	return nil, "", nil
}

type fakeObjects struct{ c *calls }

func (f fakeObjects) PutStream(_ context.Context, key string, r io.Reader, maxBytes int64, _ string) (protostar.ObjectInfo, error) {
	n, err := io.Copy(io.Discard, io.LimitReader(r, maxBytes+1))
	if err != nil {
		return protostar.ObjectInfo{}, err
	}
	if n > maxBytes {
		return protostar.ObjectInfo{}, protostar.Errorf(protostar.ETOOLARGE, "file is larger than the %d-byte limit", maxBytes)
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.puts = append(f.c.puts, key)
	return protostar.ObjectInfo{Key: key, Size: n}, nil
}

func (f fakeObjects) Copy(_ context.Context, _, dst, _ string) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.puts = append(f.c.puts, dst)
	return nil
}

func (f fakeObjects) Delete(_ context.Context, key string) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.puts = slices.DeleteFunc(f.c.puts, func(k string) bool { return k == key })
	return nil
}

func (f fakeObjects) Put(_ context.Context, key string, r io.Reader, size int64, _ string) (protostar.ObjectInfo, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != size {
		return protostar.ObjectInfo{}, protostar.Errorf(protostar.EINVALID, "short upload")
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.puts = append(f.c.puts, key)
	return protostar.ObjectInfo{Key: key, Size: size}, nil
}

type fakeDispatcher struct{}

func (fakeDispatcher) Dispatch(context.Context, protostar.Job) {}

// fakeSearcher validates like the real search service and records what
// reached it.
type fakeSearcher struct{ c *calls }

func (f fakeSearcher) Search(_ context.Context, q protostar.SearchQuery) (protostar.SearchResult, error) {
	if err := search.Validate(&q); err != nil {
		return protostar.SearchResult{}, err
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.searches = append(f.c.searches, q)
	return protostar.SearchResult{}, nil
}

type fakeSummaries struct{ c *calls }

func (f fakeSummaries) Request(_ context.Context, _, id, length string) (*protostar.Summary, *protostar.Job, error) {
	if !protostar.ValidSummaryLength(length) {
		return nil, nil, protostar.Errorf(protostar.EINVALID, "length %q", length)
	}
	if id != knownDoc {
		return nil, nil, protostar.Errorf(protostar.ENOTFOUND, "document %s not found", id)
	}
	f.c.mu.Lock()
	f.c.mutations++
	f.c.mu.Unlock()
	return nil, &protostar.Job{ID: knownJob, Type: protostar.JobSummary}, nil
}

func (f fakeSummaries) Latest(_ context.Context, _, id, _ string) (protostar.Summary, error) {
	return protostar.Summary{}, protostar.Errorf(protostar.ENOTFOUND, "no summary of document %s", id)
}

type fakeAnswerer struct{ c *calls }

func (f fakeAnswerer) Answer(_ context.Context, req answer.Request, onDelta func(string) error) (answer.Result, error) {
	f.c.mu.Lock()
	f.c.answers = append(f.c.answers, req)
	f.c.mu.Unlock()
	if req.Question == "unavailable" {
		return answer.Result{}, protostar.Errorf(protostar.EUNAVAILABLE, "search unavailable")
	}
	if onDelta != nil {
		if err := onDelta("an answer"); err != nil {
			return answer.Result{}, err
		}
	}
	return answer.Result{Text: "an answer", Citations: []protostar.Citation{}}, nil
}

// newTestServer builds the API over fakes with small body limits and no
// effective rate limit.
func newTestServer(t testing.TB) (*Server, *calls) {
	t.Helper()
	c := &calls{}
	return New(slog.New(slog.DiscardHandler), fakeDeps(c), testConfig()), c
}

// fakeDeps is every dependency of the API as a fake recording to c.
func fakeDeps(c *calls) Deps {
	return Deps{
		Store:      fakeStore{c},
		Objects:    fakeObjects{c},
		Dispatcher: fakeDispatcher{},
		Search:     fakeSearcher{c},
		Summaries:  fakeSummaries{c},
		Answers:    fakeAnswerer{c},
	}
}

// testConfig has small body limits and no effective rate limit.
func testConfig() Config {
	return Config{
		Keys:           map[string]string{testKey: "acme"},
		RateLimit:      1e9,
		RateBurst:      1 << 30,
		MaxJSONBytes:   testLimit,
		MaxUploadBytes: testLimit,
	}
}

// serve runs one request through the server and returns the recorder.
func serve(t testing.TB, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	return rec
}
