package answer

import (
	"context"
	"testing"

	"github.com/protostar/protostar"
)

type fakeSearch struct {
	hits    []protostar.SearchHit
	queries []protostar.SearchQuery
}

func (f *fakeSearch) Search(_ context.Context, q protostar.SearchQuery) (protostar.SearchResult, error) {
	f.queries = append(f.queries, q)
	return protostar.SearchResult{Hits: f.hits}, nil
}

// fakeGen cites what it is told to, whatever the passages.
type fakeGen struct {
	cited []protostar.Cited
	calls int
}

func (g *fakeGen) Answer(_ context.Context, _ string, _ []protostar.Passage, onDelta func(string) error) (string, []protostar.Cited, error) {
	g.calls++
	return "answer", g.cited, onDelta("answer")
}
func (g *fakeGen) Model() string         { return "fake" }
func (g *fakeGen) PromptVersion() string { return "v1" }

type fakeCorpus map[string]int64

func (c fakeCorpus) CorpusVersion(_ context.Context, tenantID string) (int64, error) {
	return c[tenantID], nil
}

type fakeCache map[string][]byte

func (c fakeCache) Get(_ context.Context, key string) ([]byte, bool) { v, ok := c[key]; return v, ok }
func (c fakeCache) Set(_ context.Context, key string, value []byte)  { c[key] = value }

func setup(t *testing.T) (*Service, *fakeSearch, *fakeGen, fakeCorpus) {
	t.Helper()
	search := &fakeSearch{hits: []protostar.SearchHit{
		{ChunkID: 10, DocumentID: "d1", Key: "a.md"},
		{ChunkID: 11, DocumentID: "d1", Key: "a.md"},
		{ChunkID: 10, DocumentID: "d1", Key: "a.md"}, // the same chunk twice
	}}
	gen, corpus := &fakeGen{}, fakeCorpus{"t1": 1, "t2": 1}
	return New(search, gen, corpus, fakeCache{}), search, gen, corpus
}

// TestCitationsPointAtRetrievedChunks: references to passages that were not
// retrieved are dropped, and a chunk is cited once.
func TestCitationsPointAtRetrievedChunks(t *testing.T) {
	tests := []struct {
		name  string
		cited []protostar.Cited
		want  []int64
	}{
		{"none", nil, nil},
		{"in range", []protostar.Cited{{Passage: 2}, {Passage: 1}}, []int64{11, 10}},
		{"out of range", []protostar.Cited{{Passage: 0}, {Passage: 4}, {Passage: -1}}, nil},
		{"same chunk twice", []protostar.Cited{{Passage: 1}, {Passage: 3}, {Passage: 1}}, []int64{10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, gen, _ := setup(t)
			gen.cited = tt.cited
			a, err := s.Answer(context.Background(), Request{TenantID: "t1", Question: "q"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range a.Citations {
				got = append(got, c.ChunkID)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("cited chunks %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("cited chunks %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestAnswerCache: a question is answered from the cache when only its
// spelling differs, and generated again when the tenant, the filter, top_k
// or the tenant's corpus differ.
func TestAnswerCache(t *testing.T) {
	s, search, gen, corpus := setup(t)
	ctx := context.Background()
	ask := func(r Request) Result {
		t.Helper()
		a, err := s.Answer(ctx, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	base := Request{TenantID: "t1", Question: "How do backups run?"}
	if ask(base).Cached {
		t.Fatal("first answer is cached")
	}
	if a := ask(Request{TenantID: "t1", Question: "  how do  BACKUPS run "}); !a.Cached {
		t.Error("a respelt question missed the cache")
	}
	misses := []Request{
		{TenantID: "t2", Question: base.Question},
		{TenantID: "t1", Question: base.Question, TopK: 3},
		{TenantID: "t1", Question: base.Question, Filter: protostar.SearchFilter{KeyPrefix: "ops/"}},
	}
	for _, r := range misses {
		if ask(r).Cached {
			t.Errorf("%+v was answered from another request's cache", r)
		}
	}
	corpus["t1"]++
	if ask(base).Cached {
		t.Error("a changed corpus was answered from the cache")
	}
	if gen.calls != 5 || len(search.queries) != 5 {
		t.Errorf("%d generations, %d searches; want 5 each", gen.calls, len(search.queries))
	}
	for _, q := range search.queries {
		if q.Mode != protostar.SearchHybrid || q.TenantID == "" {
			t.Errorf("search %+v", q)
		}
	}
}

// TestAnswerRefusesBadQuestions before any search.
func TestAnswerRefusesBadQuestions(t *testing.T) {
	tests := []Request{
		{TenantID: "t1", Question: "  ?? "},
		{TenantID: "t1", Question: string(make([]byte, MaxQuestionLen+1))},
		{TenantID: "t1", Question: "q", TopK: MaxTopK + 1},
		{TenantID: "t1", Question: "q", TopK: -1},
	}
	for _, r := range tests {
		s, search, _, _ := setup(t)
		if _, err := s.Answer(context.Background(), r, nil); protostar.ErrorCode(err) != protostar.EINVALID {
			t.Errorf("%.40q: error %v, want invalid", r.Question, err)
		}
		if len(search.queries) != 0 {
			t.Errorf("%.40q reached the search", r.Question)
		}
	}
}
