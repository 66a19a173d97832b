package extractive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// texts returns the cleaned text of the units of the given kind.
func texts(units []unit, kind unitKind) []string {
	var out []string
	for _, u := range units {
		if u.kind == kind {
			out = append(out, u.text)
		}
	}
	return out
}

func TestSegmentSentences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"soft wrapped paragraph", "First line\ncontinues here. Second sentence.", []string{"First line continues here.", "Second sentence."}},
		{"fenced code skipped", "Before.\n```go\nfunc main() { panic(\"x. Y\") }\n```\nAfter.", []string{"Before.", "After."}},
		{"tilde fence with longer close", "~~~\ncode. Code.\n~~~~\nText.", []string{"Text."}},
		{"indented code skipped", "Intro.\n\n    go run ./cmd\n\nOutro.", []string{"Intro.", "Outro."}},
		{"pipe table skipped", "Text.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nMore.", []string{"Text.", "More."}},
		{"table without outer pipes", "a | b\n--- | ---\n1 | 2\n\nDone.", []string{"Done."}},
		{"headings are not sentences", "# Title\n\nBody one.\n\nSub\n---\n\nBody two.", []string{"Body one.", "Body two."}},
		{"bullets and task boxes", "- first item\n* second item\n+ third\n1. fourth\n2) fifth\n- [x] done task", []string{"first item", "second item", "third", "fourth", "fifth", "done task"}},
		{"list item continuation", "- item starts\n  and continues.\n- next", []string{"item starts and continues.", "next"}},
		{"links images autolinks", "See [the docs](https://x.io/a. B) and ![logo](l.png) or <https://example.com>.", []string{"See the docs and logo or https://example.com."}},
		{"reference links and definitions", "Read [the guide][g] now.[^1]\n\n[g]: https://x.io\n[^1]: A footnote.", []string{"Read the guide now.", "A footnote."}},
		{"inline code kept literally", "Run `make run` or ``a `b` c`` with `__init__`.", []string{"Run make run or a `b` c with __init__."}},
		{"emphasis removed, identifiers kept", "This is **bold**, *it*, __also__ and ~~gone~~ but snake_case and 2 * 3 stay.", []string{"This is bold, it, also and gone but snake_case and 2 * 3 stay."}},
		{"escapes", `A \*literal\* star and a \_score\_.`, []string{"A *literal* star and a _score_."}},
		{"block quote", "> Quoted line one\n> continues. Second.", []string{"Quoted line one continues.", "Second."}},
		{"html", "<details>\n<summary>Hi</summary>\n\nText <b>bold</b> here.\n<!-- a\ncomment -->\nEnd.", []string{"Hi", "Text bold here.", "End."}},
		{"front matter", "---\ntitle: X\ntags: [a]\n---\nBody.", []string{"Body."}},
		{"thematic break separates blocks", "One\n\n***\n\nTwo", []string{"One", "Two"}},
		{"korean endings", "검색은 빠릅니다. 정말 그럴까요? 네, 그렇다!", []string{"검색은 빠릅니다.", "정말 그럴까요?", "네, 그렇다!"}},
		{"korean ending before lower-case latin", "HNSW를 씁니다. kubectl로 배포한다. pgvector도 좋아요.", []string{"HNSW를 씁니다.", "kubectl로 배포한다.", "pgvector도 좋아요."}},
		{"korean ending with closing quote", "그는 \"좋다.\" 라고 말했다.", []string{"그는 \"좋다.\" 라고 말했다."}},
		{"abbreviations", "Dr. Smith met Mr. Jones at 3 p.m. today. They talked.", []string{"Dr. Smith met Mr. Jones at 3 p.m. today.", "They talked."}},
		{"crlf", "One line.\r\nSame paragraph.\r\n\r\nNew.", []string{"One line.", "Same paragraph.", "New."}},
		{"empty", "", nil},
		{"only markup", "```\nx\n```\n---\n| a |\n|---|", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, texts(segment(tt.in, false), unitSentence)); diff != "" {
				t.Errorf("sentences of %q (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSegmentHeadings(t *testing.T) {
	t.Parallel()
	got := texts(segment("# One #\n\n## **Two** [link](x)\n\nThree\n=====\n\n#NotHeading.", false), unitHeading)
	if diff := cmp.Diff([]string{"One", "Two link", "Three"}, got); diff != "" {
		t.Errorf("headings (-want +got):\n%s", diff)
	}
}

func TestSegmentLinesAreBlocks(t *testing.T) {
	t.Parallel()
	in := "First summary without a stop\nSecond summary. With two sentences.\n"
	units := segment(in, true)
	got := texts(units, unitSentence)
	want := []string{"First summary without a stop", "Second summary.", "With two sentences."}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sentences (-want +got):\n%s", diff)
	}
	if units[0].block == units[1].block || units[1].block != units[2].block {
		t.Errorf("blocks = %d %d %d, want each line its own block", units[0].block, units[1].block, units[2].block)
	}
}

// TestSegmentSpans checks on every sample document that units are in
// order, do not overlap, are trimmed and clean to their text.
func TestSegmentSpans(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkSpans(t, string(b))
	}
}

func checkSpans(t *testing.T, src string) {
	t.Helper()
	end := 0
	for _, u := range segment(src, false) {
		if u.kind == unitSkipped {
			continue
		}
		if u.start < end || u.end <= u.start || u.end > len(src) {
			t.Fatalf("unit %q has span [%d,%d) after %d in %d bytes", u.text, u.start, u.end, end, len(src))
		}
		raw := src[u.start:u.end]
		if strings.TrimSpace(raw) != raw {
			t.Errorf("span %q is not trimmed", raw)
		}
		if got := cleanInline(raw); got != u.text || got == "" {
			t.Errorf("cleanInline(%q) = %q, unit text %q", raw, got, u.text)
		}
		end = u.end
	}
}

func FuzzSegment(f *testing.F) {
	for _, s := range []string{
		"# T\n\nA. B.\n- x\n> q\n```\nc\n```", "| a |\n|-|\n", "[a](b. C) `x. Y` **z**", "데이터베이스를 씁니다. kubectl이다.",
		"---\nfm\n---\n", "<!--", "\xff\xfe. \u212a", "Dr. ", "\n\n\n", "``",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkSpans(t, src)
	})
}

// TestPathologicalInputStaysFast guards against quadratic scans: 100 KB of
// repeated unclosed Markdown syntax in one block must still be cheap.
func TestPathologicalInputStaysFast(t *testing.T) {
	t.Parallel()
	for _, piece := range []string{"`a ", "``b ", "](x ", "[a ", "*a ", "_a_ ", "![", "<http://x ", "~~a ", `\* `, "a. ", "데이터. ", `"좋다." 라고 `} {
		src := strings.Repeat(piece, 100_000/len(piece))
		start := time.Now()
		checkSpans(t, src)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("segmenting 100 KB of %q took %v", piece, d)
		}
	}
}
