package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

// explained is a search answer with each hit's explain object.
type explained struct {
	Results []struct {
		Text    string  `json:"text"`
		Score   float64 `json:"score"`
		Explain *struct {
			VectorRank   int      `json:"vector_rank"`
			KeywordRank  int      `json:"keyword_rank"`
			KeywordScore float64  `json:"keyword_score"`
			PassageScore float64  `json:"passage_score"`
			FusedScore   float64  `json:"fused_score"`
			MatchedTerms []string `json:"matched_terms"`
		} `json:"explain"`
	} `json:"results"`
	Rerank string `json:"rerank"`
}

func searchExplained(t *testing.T, p *proc, req map[string]any) explained {
	t.Helper()
	code, body := p.do(http.MethodPost, "/v1/search", keyA, req)
	if code != http.StatusOK {
		t.Fatalf("search %v: %d %s", req, code, body)
	}
	var out explained
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSearchExplainAndRerank: explain says why each hit ranked where it
// did; a reranker speaking the /v1/rerank wire format reorders the hits,
// and when it fails the fused order is kept and the answer says so.
func TestSearchExplainAndRerank(t *testing.T) {
	t.Parallel()
	reranker := testenv.NewReranker(t, "restore") // prefers the chunk about restores

	s := newStack(t)
	p := s.start("all", "PROTOSTAR_RERANK_URL="+reranker.URL, "PROTOSTAR_RERANK_TIMEOUT=1s")
	for key, doc := range map[string]string{
		"ops/backup.md":  "# 백업\n\n데이터베이스 백업은 매일 실행한다. backups of the indexes run nightly.\n",
		"ops/restore.md": "# 복구\n\nrestore drills: we restore a database backup every quarter, and restore one after upgrades.\n",
	} {
		acc := p.mustUpload(key, keyA, []byte(doc))
		if j := p.waitJob(acc.Job.ID, keyA, 60*time.Second); j.Status != "succeeded" {
			t.Fatalf("ingest job = %+v", j)
		}
	}

	plain := searchExplained(t, p, map[string]any{"query": "데이터베이스 backup index", "mode": "keyword"})
	if len(plain.Results) == 0 || plain.Results[0].Explain != nil {
		t.Fatalf("explain not asked for: %+v", plain)
	}
	res := searchExplained(t, p, map[string]any{"query": "데이터베이스 backup index", "explain": true, "mode": "keyword"})
	if res.Rerank != "reranked" || len(res.Results) == 0 {
		t.Fatalf("search = %+v", res)
	}
	first := res.Results[0]
	if !strings.Contains(first.Text, "restore") {
		t.Errorf("the reranker's favourite is not first: %q", first.Text)
	}
	for _, h := range res.Results {
		e := h.Explain
		// A one-chunk document's passage is its chunk: half the keyword score.
		if e == nil || e.KeywordRank == 0 || e.KeywordScore <= 0 || e.FusedScore != h.Score || e.MatchedTerms == nil ||
			e.PassageScore <= 0 || e.PassageScore >= e.KeywordScore {
			t.Fatalf("explain of %q = %+v", h.Text, e)
		}
	}
	terms := append([]string{}, res.Results[len(res.Results)-1].Explain.MatchedTerms...)
	for _, want := range []string{"데이", "backup", "index"} { // stemmed: backups, indexes
		if !slices.Contains(terms, want) && !slices.Contains(res.Results[0].Explain.MatchedTerms, want) {
			t.Errorf("matched terms %v lack %q", terms, want)
		}
	}

	reranker.Down.Store(true)
	res = searchExplained(t, p, map[string]any{"query": "데이터베이스 backup index", "explain": true})
	if res.Rerank != "unavailable" || len(res.Results) == 0 || res.Results[0].Explain.KeywordRank != 1 {
		t.Fatalf("with the reranker down: %+v", res)
	}
}
