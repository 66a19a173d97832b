package extractive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar"
)

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func summarize(t testing.TB, in protostar.SummaryInput) string {
	t.Helper()
	out, err := New().Summarize(context.Background(), in)
	if err != nil {
		t.Fatalf("Summarize(%s): %v", in.Length, err)
	}
	return out
}

// pickedSentences parses a summary back into positions of the source's
// sentences, failing the test unless the summary consists of whole source
// sentences (cleaned of Markdown, with a full stop added where missing)
// separated by sep.
func pickedSentences(t testing.TB, src, summary, sep string, reduce bool) []int {
	t.Helper()
	source := texts(segment(src, reduce), unitSentence)
	var picked []int
	rest := summary
	for rest != "" {
		found := -1
		for i, s := range source {
			s = withFinalPunctuation(s)
			if strings.HasPrefix(rest, s) && (len(rest) == len(s) || strings.HasPrefix(rest[len(s):], sep)) {
				found = i
				rest = strings.TrimPrefix(rest[len(s):], sep)
				break
			}
		}
		if found < 0 {
			t.Fatalf("summary does not consist of source sentences; stuck at %q", rest)
		}
		picked = append(picked, found)
	}
	return picked
}

func TestSummarizeEmpty(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "  \n\t ", "```\ncode only. Really.\n```", "| a | b |\n|---|---|\n| c | d |", "# Just a heading", "---\n***"} {
		out, err := New().Summarize(context.Background(), protostar.SummaryInput{Text: text, Length: "short"})
		if out != "" || err != nil {
			t.Errorf("Summarize(%q) = %q, %v; want \"\", nil", text, out, err)
		}
	}
}

func TestSummarizeInvalidLength(t *testing.T) {
	t.Parallel()
	_, err := New().Summarize(context.Background(), protostar.SummaryInput{Text: "Some text here.", Length: "huge"})
	if protostar.ErrorCode(err) != protostar.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	if out := summarize(t, protostar.SummaryInput{Text: "Some text is here."}); out != "Some text is here." {
		t.Errorf("empty Length: got %q", out)
	}
}

func TestSummarizeLengthsAndOrder(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"vector_search_en.md", "database_ko.md", "mixed_ko_en.md"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			src := readTestdata(t, file)
			var counts []int
			for _, length := range []string{"short", "medium", "long"} {
				out := summarize(t, protostar.SummaryInput{Text: src, Length: length})
				picked := pickedSentences(t, src, out, " ", false)
				if !slices.IsSorted(picked) || len(slices.Compact(slices.Clone(picked))) != len(picked) {
					t.Errorf("%s: sentence positions %v are not in source order", length, picked)
				}
				counts = append(counts, len(picked))
			}
			if !(counts[0] < counts[1] && counts[1] < counts[2]) {
				t.Errorf("sentence counts short/medium/long = %v, want strictly increasing", counts)
			}
			if counts[0] > 3 || counts[1] > 6 || counts[2] > 12 {
				t.Errorf("sentence counts %v exceed 3/6/12", counts)
			}
		})
	}
}

func TestSummarizeKoreanSentences(t *testing.T) {
	t.Parallel()
	src := readTestdata(t, "database_ko.md")
	for _, length := range []string{"short", "medium", "long"} {
		out := summarize(t, protostar.SummaryInput{Text: src, Length: length, HeadingPath: []string{"PostgreSQL 데이터베이스 운영 안내"}})
		source := texts(segment(src, false), unitSentence)
		for _, i := range pickedSentences(t, src, out, " ", false) {
			if s := source[i]; !strings.HasSuffix(s, "다.") && !strings.HasSuffix(s, "요.") {
				t.Errorf("%s: picked %q, which does not end in 다. or 요.", length, s)
			}
		}
	}
}

func TestSummarizeCleansMarkdown(t *testing.T) {
	t.Parallel()
	out := summarize(t, protostar.SummaryInput{Text: readTestdata(t, "vector_search_en.md"), Length: "long"})
	for _, bad := range []string{"```", "|", "](", "**", "#", "HeadingPath []string", "title:", "<http", "- "} {
		if strings.Contains(out, bad) {
			t.Errorf("summary contains Markdown %q:\n%s", bad, out)
		}
	}
}

func TestSummarizeSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		text      string
		length    string
		want      []string // each must appear
		notWant   []string // none may appear
		sentences int
	}{
		{
			name: "off-topic sentence is not central",
			text: "Vector search finds similar chunks by comparing embeddings. " +
				"Embeddings of similar chunks point in similar directions. " +
				"The search compares the query embedding with chunk embeddings. " +
				"My cat likes warm windowsills in the afternoon. " +
				"Chunk embeddings are stored in PostgreSQL for vector search.",
			length:  "short",
			notWant: []string{"cat"},
		},
		{
			name: "exact and near duplicates appear once",
			text: "Backups run every night at three. Backups run every night at three. " +
				"Backups run every night at three o'clock. Restores are tested every quarter. " +
				"Backups are kept for thirty days in object storage. Backups run every night at three.",
			length:    "long",
			want:      []string{"Backups run every night at three"},
			sentences: 3,
		},
		{
			name:      "short text scales down",
			text:      "검색은 빠르다. 색인은 느리다. 그래도 괜찮다.",
			length:    "short",
			sentences: 1,
		},
		{
			name:      "list items become sentences",
			text:      "Features:\n\n- fast hybrid keyword search\n- Korean bigram indexing of text\n- cited extractive answers",
			length:    "long",
			want:      []string{"search.", "text."},
			sentences: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := summarize(t, protostar.SummaryInput{Text: tt.text, Length: tt.length})
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("summary lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("summary contains %q:\n%s", w, out)
				}
			}
			picked := pickedSentences(t, tt.text, out, " ", false)
			if tt.sentences > 0 && len(picked) != tt.sentences {
				t.Errorf("got %d sentences, want %d:\n%s", len(picked), tt.sentences, out)
			}
			if strings.Count(out, "Backups run every night at three") > 1 {
				t.Errorf("duplicate sentence kept:\n%s", out)
			}
		})
	}
}

func TestSummarizeReduce(t *testing.T) {
	t.Parallel()
	src := readTestdata(t, "reduce_en.txt")
	lines := strings.Split(strings.TrimSpace(src), "\n")
	out := summarize(t, protostar.SummaryInput{Text: src, Length: "medium", Reduce: true})
	picked := pickedSentences(t, src, out, " ", true)
	if len(picked) != 4 { // ceil(8 × 0.4)
		t.Fatalf("got %d sentences, want 4:\n%s", len(picked), out)
	}
	if slices.Contains(picked, 0) && slices.Contains(picked, 7) {
		t.Errorf("kept both near-duplicate lines 1 and 8:\n%s", out)
	}

	long := summarize(t, protostar.SummaryInput{Text: src, Length: "long", Reduce: true})
	got := strings.Split(long, "\n")
	if len(got) < 4 {
		t.Fatalf("long reduce has %d lines, want one sentence per line:\n%s", len(got), long)
	}
	for _, l := range got {
		if !slices.Contains(lines, l) {
			t.Errorf("line %q is not one of the section summaries", l)
		}
	}
}

func TestSummarizeDeterministic(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"vector_search_en.md", "database_ko.md", "reduce_en.txt"} {
		in := protostar.SummaryInput{Text: readTestdata(t, file), Length: "medium", Reduce: strings.HasSuffix(file, ".txt")}
		first := summarize(t, in)
		for range 20 {
			if got := summarize(t, in); got != first {
				t.Fatalf("%s: summary changed between runs:\n%s\n---\n%s", file, first, got)
			}
		}
	}
}

// TestSummarizeLargeInput checks the graph cap: thousands of sentences are
// summarised quickly and within the sentence budget.
func TestSummarizeLargeInput(t *testing.T) {
	t.Parallel()
	topics := []string{"database", "backup", "index", "replica", "vacuum", "search", "chunk", "embedding", "queue", "worker"}
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "The %s of shard %d talks to the %s and the %s. ", topics[i%10], i, topics[(i*7)%10], topics[(i*3+1)%10])
		if i%5 == 4 {
			b.WriteString("\n\n")
		}
	}
	start := time.Now()
	out := summarize(t, protostar.SummaryInput{Text: b.String(), Length: "long"})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("5000 sentences took %v", elapsed)
	}
	if n := strings.Count(out, ". "); n == 0 || n > 12 {
		t.Errorf("got %d sentences, want 1..12:\n%s", n, out)
	}
}

func TestSummarizeHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Summarize(ctx, protostar.SummaryInput{Text: "One sentence here.", Length: "short"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestWithFinalPunctuation(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Done.": "Done.", "정말요?": "정말요?", "no stop": "no stop.", "lead-in:": "lead-in.",
		`He said "yes."`: `He said "yes."`, "(괄호 안.)": "(괄호 안.)", "끝이다": "끝이다.",
	} {
		if got := withFinalPunctuation(in); got != want {
			t.Errorf("withFinalPunctuation(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkSummarize(b *testing.B) {
	src := readTestdata(b, "vector_search_en.md") + readTestdata(b, "database_ko.md") + readTestdata(b, "mixed_ko_en.md")
	g := New()
	ctx := context.Background()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Summarize(ctx, protostar.SummaryInput{Text: src, Length: "medium"}); err != nil {
			b.Fatal(err)
		}
	}
}
