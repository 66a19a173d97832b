package console

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
)

func TestHighlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		terms      []string
		want       string
	}{
		{"korean bigrams with a particle", "데이터베이스를 튜닝", []string{"데이", "이터", "베이"}, "<mark>데이터베이</mark>스를 튜닝"},
		{"whole bigram run", "데이터베이스를", []string{"데이", "이터", "터베", "베이", "이스"}, "<mark>데이터베이스</mark>를"},
		{"english word, any case", "Backup the DB <now>", []string{"backup", "db"}, "<mark>Backup</mark> the <mark>DB</mark> &lt;now&gt;"},
		{"no terms escapes only", `<script>"x"</script>`, nil, "&lt;script&gt;&#34;x&#34;&lt;/script&gt;"},
		{"a term inside a word is not a match", "backups", []string{"backup"}, "backups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(highlight(tt.text, tt.terms)); got != tt.want {
				t.Errorf("highlight(%q, %q) = %q, want %q", tt.text, tt.terms, got, tt.want)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, accept, cookie, want string
	}{
		{"default", "", "", "en"},
		{"korean browser", "ko-KR,ko;q=0.9,en-US;q=0.8", "", "ko"},
		{"english preferred over korean", "en-US,en;q=0.9,ko;q=0.5", "", "en"},
		{"q-values decide", "ko;q=0.4, en;q=0.6", "", "en"},
		{"unknown only", "fr-FR,de;q=0.5", "", "en"},
		{"the switch wins", "en-US", "ko", "ko"},
		{"a bad cookie is ignored", "ko", "xx", "ko"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/console/", nil)
			r.Header.Set("Accept-Language", tt.accept)
			if tt.cookie != "" {
				r.Header.Set("Cookie", langCookie+"="+tt.cookie)
			}
			if got := language(r); got != tt.want {
				t.Errorf("language = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCatalogueComplete(t *testing.T) {
	t.Parallel()
	for id := range catalogue["en"] {
		if _, ok := catalogue["ko"][id]; !ok {
			t.Errorf("message %q has no Korean text", id)
		}
	}
	for id := range catalogue["ko"] {
		if _, ok := catalogue["en"][id]; !ok {
			t.Errorf("Korean message %q has no English text", id)
		}
	}
}

func TestParseMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"", map[string]string{}, true},
		{"team=infra", map[string]string{"team": "infra"}, true},
		{" team = infra , lang=ko ,", map[string]string{"team": "infra", "lang": "ko"}, true},
		{"team", nil, false},
		{"=infra", nil, false},
	}
	for _, tt := range tests {
		got, err := parseMetadata(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseMetadata(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok {
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMetadata(%q) (-want +got):\n%s", tt.in, diff)
			}
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	t.Parallel()
	if _, err := parsePages(); err != nil {
		t.Fatal(err)
	}
}

// TestPagesRender executes every page and fragment with data like the
// handlers', in both languages, so a template that fails at run time (a
// wrong field, a bad function call) fails here.
func TestPagesRender(t *testing.T) {
	t.Parallel()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{logger: slog.New(slog.DiscardHandler), pages: pages}
	now := time.Now()
	job := protostar.Job{ID: "j1", Type: protostar.JobIngest, Status: protostar.JobRunning, DocumentID: "d1",
		Progress: protostar.Progress{Done: 3, Total: 9}, Attempts: 1, MaxAttempts: 5, CreatedAt: now, StartedAt: &now}
	doc := protostar.Document{ID: "d1", Key: "guides/a.md", Status: protostar.DocumentFailed, Error: "binary content",
		Metadata: []byte(`{"team":"infra"}`), CreatedAt: now, UpdatedAt: now}
	chunks := chunksData{DocumentID: "d1", Chunks: []protostar.ChunkView{{ID: 7, Ordinal: 0, HeadingPath: []string{"가", "나"}, Text: "본문", Tokens: 12}}, Next: 0}
	hit := protostar.SearchHit{ChunkID: 7, DocumentID: "d1", Key: "a.md", HeadingPath: []string{"백업"}, Text: "데이터베이스를 백업",
		Explain: &protostar.SearchExplain{VectorRank: 1, KeywordRank: 2, FusedScore: 0.03, MatchedTerms: []string{"데이", "백업"}}}
	stats := protostar.TenantStats{Documents: map[string]int{"ready": 2}, Jobs: map[string]int{"failed": 1},
		Ingests: []protostar.IngestBucket{{Start: now, Succeeded: 2, Failed: 1}}}
	ov := overviewData{Stats: stats, HealthErrors: map[string]string{"postgres": "", "redis": "dependency unavailable"},
		Health: []statusCount{{Status: "postgres"}, {Status: "redis"}}}
	ov.Chart, ov.ChartMax = chart(stats.Ingests)
	tests := []struct {
		page, fragment string
		data           any
	}{
		{"signin", "", struct{ Message string }{"API key revoked"}},
		{"tenants", "", struct{ Tenants []string }{[]string{"acme"}}},
		{"error", "", struct {
			Status        int
			Title, Detail string
		}{404, "Not Found", "document not found"}},
		{"overview", "", ov},
		{"documents", "", documentsData{Documents: []protostar.Document{doc}, Live: true, Next: "c"}},
		{"documents", "rows", documentsData{}},
		{"document", "", documentData{Doc: doc, Jobs: []protostar.Job{job}, Chunks: chunks,
			Summary: &protostar.Summary{Text: "요약", Length: "short", CreatedAt: now}}},
		{"document", "chunks", documentData{Chunks: chunks}},
		{"jobs", "", jobsData{Failed: []protostar.Job{job}, Next: "c"}},
		{"jobs", "live", liveData{Running: []protostar.Job{job}, Queued: []protostar.Job{job}}},
		{"search", "", searchData{Query: "데이터베이스", Mode: "hybrid", TopK: 10, Ran: true, Hits: []protostar.SearchHit{hit}}},
		{"search", "answer", searchData{Question: "백업은?"}},
		{"webhooks", "", webhooksData{Hooks: []hookData{{Hook: protostar.Webhook{URL: "https://x.example"},
			Deliveries: []deliveryRow{{protostar.Delivery{Status: "failed", CreatedAt: now}, "500"}}}}}},
		{"webhooks", "", webhooksData{Off: true}},
	}
	for _, tt := range tests {
		for _, lang := range languages {
			r := httptest.NewRequest("GET", "/console/", nil)
			w := httptest.NewRecorder()
			rq := &request{lang: lang, tenant: "acme", session: protostar.ConsoleSession{TokenHash: []byte{1}, CSRFToken: "t"}}
			if tt.fragment == "" {
				c.render(w, r, rq, 200, tt.page, tt.data)
			} else {
				c.fragment(w, r, rq, tt.page, tt.fragment, tt.data)
			}
			if w.Code != 200 {
				t.Errorf("%s %s (%s): %d %s", tt.page, tt.fragment, lang, w.Code, w.Body)
			}
		}
	}
}
