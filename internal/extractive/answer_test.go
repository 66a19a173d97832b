package extractive

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/protostar/protostar"
)

// passagesFrom turns sample documents into passages, one per "## " section,
// numbered from 1 in order, each with its heading path.
func passagesFrom(t testing.TB, files ...string) []protostar.Passage {
	t.Helper()
	var out []protostar.Passage
	for _, f := range files {
		src := readTestdata(t, f)
		sections := strings.Split(src, "\n## ")
		_, after, _ := strings.Cut(src, "\n# ")
		if strings.HasPrefix(src, "# ") {
			after = src[2:]
		}
		docTitle, _, _ := strings.Cut(after, "\n")
		for i, sec := range sections {
			path := []string{docTitle}
			text := sec
			if i > 0 {
				heading, _, _ := strings.Cut(sec, "\n")
				path = append(path, heading)
				text = "## " + sec
			}
			out = append(out, protostar.Passage{Index: len(out) + 1, HeadingPath: path, Text: text})
		}
	}
	return out
}

// normalizeSpace is the test's own white-space normalisation for checking
// that quotes are verbatim.
func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

var marker = regexp.MustCompile(` \[(\d+)\]`)

type answerResult struct {
	text   string
	cites  []protostar.Cited
	deltas []string
}

func answer(t testing.TB, question string, passages []protostar.Passage) answerResult {
	t.Helper()
	var r answerResult
	text, cites, err := New().Answer(context.Background(), question, passages, func(d string) error {
		r.deltas = append(r.deltas, d)
		return nil
	})
	if err != nil {
		t.Fatalf("Answer(%q): %v", question, err)
	}
	r.text, r.cites = text, cites
	if got := strings.Join(r.deltas, ""); got != text {
		t.Fatalf("deltas concatenate to %q, want the returned text %q", got, text)
	}
	return r
}

// checkCitations verifies the citation contract: every marker in the text
// names a cited passage, every cited passage is marked, and every quote is
// verbatim from its passage.
func checkCitations(t testing.TB, r answerResult, passages []protostar.Passage) {
	t.Helper()
	byIndex := make(map[int]protostar.Passage)
	for _, p := range passages {
		byIndex[p.Index] = p
	}
	cited := make(map[int]bool)
	for _, c := range r.cites {
		p, ok := byIndex[c.Passage]
		if !ok {
			t.Fatalf("cites unknown passage %d", c.Passage)
		}
		if cited[c.Passage] {
			t.Errorf("passage %d cited twice", c.Passage)
		}
		cited[c.Passage] = true
		if c.Quote == "" || !strings.Contains(normalizeSpace(p.Text), normalizeSpace(c.Quote)) {
			t.Errorf("quote %q is not verbatim from passage %d:\n%s", c.Quote, c.Passage, p.Text)
		}
	}
	marked := make(map[int]bool)
	for _, m := range marker.FindAllStringSubmatch(r.text, -1) {
		n, _ := strconv.Atoi(m[1])
		marked[n] = true
		if !cited[n] {
			t.Errorf("marker [%d] has no citation", n)
		}
	}
	for n := range cited {
		if !marked[n] {
			t.Errorf("passage %d is cited but never marked in %q", n, r.text)
		}
	}
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	passages := passagesFrom(t, "vector_search_en.md", "database_ko.md", "mixed_ko_en.md")
	heading := func(h string) int {
		for _, p := range passages {
			if p.HeadingPath[len(p.HeadingPath)-1] == h {
				return p.Index
			}
		}
		t.Fatalf("no passage with heading %q", h)
		return 0
	}
	tests := []struct {
		name     string
		question string
		passage  int    // the first citation
		contains string // in the answer text
	}{
		{"english", "How does hybrid search merge rankings?", heading("Hybrid search"), "reciprocal rank fusion"},
		{"english redis", "What happens if Redis is down?", heading("Ingestion"), "dispatched when Redis returns"},
		{"english chunk size", "How are chunks sized?", heading("Chunking"), "sized by tokens"},
		{"korean stem matches particle form", "데이터베이스 백업은 언제 실행되나요?", heading("백업"), "매일 새벽 세 시"},
		{"korean", "복제 지연이 길면 어떻게 되나요?", heading("복제"), "십 초"},
		{"korean latin term", "VACUUM은 왜 필요한가요?", heading("정리 작업"), "VACUUM"},
		{"korean question, english sentence", "readiness probe는 무엇을 하나요?", heading("롤아웃"), "readiness probe keeps traffic away"},
		{"mixed sentence", "kubectl로 배포하면 어떻게 되나요?", heading("롤아웃"), "파드가 하나씩 교체된다"},
		{"english question, mixed passage", "Are secrets masked in the configuration?", heading("설정"), "masked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := answer(t, tt.question, passages)
			if len(r.cites) == 0 {
				t.Fatalf("no citations; answer %q", r.text)
			}
			if r.cites[0].Passage != tt.passage {
				t.Errorf("first citation is passage %d, want %d; answer %q", r.cites[0].Passage, tt.passage, r.text)
			}
			if !strings.Contains(r.text, tt.contains) {
				t.Errorf("answer %q lacks %q", r.text, tt.contains)
			}
			if n := len(marker.FindAllString(r.text, -1)); n < 1 || n > maxAnswerSents || n != len(r.deltas) {
				t.Errorf("answer has %d sentences in %d deltas, want 1..%d, one delta each", n, len(r.deltas), maxAnswerSents)
			}
			checkCitations(t, r, passages)
		})
	}
}

func TestAnswerNoAnswer(t *testing.T) {
	t.Parallel()
	passages := passagesFrom(t, "vector_search_en.md", "database_ko.md", "mixed_ko_en.md")
	tests := []struct {
		question string
		passages []protostar.Passage
		want     string
	}{
		{"What is the capital of France?", passages, NoAnswerEnglish},
		{"Who won the world cup in 2018?", passages, NoAnswerEnglish},
		{"How do I reset my password?", passages, NoAnswerEnglish},
		{"What is it?", passages, NoAnswerEnglish},
		{"", passages, NoAnswerEnglish},
		{"프랑스의 수도는 어디인가요?", passages, NoAnswerKorean},
		{"오늘 저녁 메뉴는 무엇인가요?", passages, NoAnswerKorean},
		{"무엇인가요?", passages, NoAnswerKorean},
		{"How does hybrid search work?", nil, NoAnswerEnglish},
		{"하이브리드 검색은 어떻게 동작하나요?", []protostar.Passage{{Index: 1, Text: "```\ncode only\n```"}}, NoAnswerKorean},
	}
	for _, tt := range tests {
		r := answer(t, tt.question, tt.passages)
		if r.text != tt.want || len(r.cites) != 0 {
			t.Errorf("Answer(%q) = %q with %d citations, want %q and none", tt.question, r.text, len(r.cites), tt.want)
		}
	}
}

func TestAnswerQuotes(t *testing.T) {
	t.Parallel()
	passages := []protostar.Passage{
		{Index: 7, HeadingPath: []string{"Guide", "Backups"}, Text: "## Backups\n\nBackups   run **every night** at\n   three, see [the runbook](https://x.io/run. Book).\nRestores are tested\nevery quarter.\n\n- Backups are kept for\n  thirty days."},
		{Index: 9, HeadingPath: []string{"Guide", "Other"}, Text: "Nothing relevant lives here at all."},
	}
	r := answer(t, "When do backups run and how long are backups kept?", passages)
	checkCitations(t, r, passages)
	if len(r.cites) != 1 || r.cites[0].Passage != 7 {
		t.Fatalf("citations %+v, want one of passage 7", r.cites)
	}
	if !strings.Contains(r.text, "Backups run every night at three, see the runbook. [7]") {
		t.Errorf("answer %q lacks the cleaned sentence", r.text)
	}
	if q := r.cites[0].Quote; !strings.Contains(q, "**every night**") || !strings.Contains(q, "thirty days.") {
		t.Errorf("quote %q is not the verbatim span of both sentences used", q)
	}
}

func TestAnswerHeadingBoost(t *testing.T) {
	t.Parallel()
	sentence := "The limit is applied per tenant and resets every minute."
	passages := []protostar.Passage{
		{Index: 1, HeadingPath: []string{"Search"}, Text: sentence},
		{Index: 2, HeadingPath: []string{"Rate limit"}, Text: sentence + " Nothing else here."},
	}
	r := answer(t, "What is the rate limit?", passages)
	checkCitations(t, r, passages)
	if len(r.cites) != 1 || r.cites[0].Passage != 2 {
		t.Errorf("citations %+v, want only passage 2, whose heading matches", r.cites)
	}
}

func TestAnswerDedupesSentences(t *testing.T) {
	t.Parallel()
	text := "데이터베이스 백업은 매일 새벽 세 시에 실행됩니다."
	passages := []protostar.Passage{{Index: 1, Text: text}, {Index: 2, Text: text}, {Index: 3, Text: "데이터베이스 백업은 매일 새벽 세 시에 자동으로 실행됩니다."}}
	r := answer(t, "데이터베이스 백업은 언제 하나요?", passages)
	checkCitations(t, r, passages)
	if len(r.deltas) != 1 || len(r.cites) != 1 || r.cites[0].Passage != 1 {
		t.Errorf("answer %q with %+v, want one sentence citing passage 1", r.text, r.cites)
	}
}

func TestAnswerOnDeltaErrorAborts(t *testing.T) {
	t.Parallel()
	passages := passagesFrom(t, "database_ko.md")
	errStop := errors.New("client went away")
	for _, question := range []string{"HNSW 인덱스의 장점은 무엇인가요?", "프랑스의 수도는?"} {
		calls := 0
		text, cites, err := New().Answer(context.Background(), question, passages, func(string) error {
			calls++
			return errStop
		})
		if !errors.Is(err, errStop) || text != "" || cites != nil || calls != 1 {
			t.Errorf("Answer(%q) = %q, %v, %v after %d calls; want the onDelta error after one call", question, text, cites, err, calls)
		}
	}
}

func TestAnswerHonoursContext(t *testing.T) {
	t.Parallel()
	passages := passagesFrom(t, "database_ko.md")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := New().Answer(ctx, "HNSW 인덱스의 장점은?", passages, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	// Cancelled while streaming: no further deltas.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_, _, err = New().Answer(ctx, "HNSW 인덱스의 장점은 무엇인가요?", passages, func(string) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("err = %v after %d deltas, want context.Canceled after 1", err, calls)
	}
}

func TestAnswerNilOnDelta(t *testing.T) {
	t.Parallel()
	text, cites, err := New().Answer(context.Background(), "How are chunks sized?", passagesFrom(t, "vector_search_en.md"), nil)
	if err != nil || len(cites) == 0 || !strings.Contains(text, "tokens") {
		t.Fatalf("Answer = %q, %+v, %v", text, cites, err)
	}
}

func TestModelAndPromptVersion(t *testing.T) {
	t.Parallel()
	if g := New(); g.Model() != "extractive-v1" || g.PromptVersion() != "v1" {
		t.Errorf("Model, PromptVersion = %q, %q", g.Model(), g.PromptVersion())
	}
}

// FuzzAnswerQuotes asks a passage about its own words and checks the
// citation contract on whatever comes back.
func FuzzAnswerQuotes(f *testing.F) {
	f.Add("Backups run **nightly**. See [x](y. Z).\n\n- kept for 30 days", "backups nightly")
	f.Add("데이터베이스를 백업합니다. kubectl로 배포한다.\n> 인용문이다.", "데이터베이스 백업")
	f.Add("| a | b |\n|---|---|\nText after table. More text here.", "text table")
	f.Fuzz(func(t *testing.T, text, question string) {
		passages := []protostar.Passage{{Index: 3, Text: text}, {Index: 4, Text: question + " filler words here."}}
		r := answer(t, question, passages)
		checkCitations(t, r, passages)
		if len(r.cites) == 0 && r.text != NoAnswerEnglish && r.text != NoAnswerKorean {
			t.Fatalf("answer %q without citations", r.text)
		}
	})
}

func BenchmarkAnswer(b *testing.B) {
	passages := passagesFrom(b, "vector_search_en.md", "database_ko.md", "mixed_ko_en.md")
	g := New()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := g.Answer(ctx, "데이터베이스 백업은 언제 실행되나요?", passages, nil); err != nil {
			b.Fatal(err)
		}
	}
}
