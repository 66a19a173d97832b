package evalset

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// miniSet is the e2e tests' small SQuAD file: five paragraphs of Korean
// and English, seven questions.
const miniSet = "../../e2e/testdata/squad-mini.json"

// setup returns a set of paragraphs whose words are all distinct, so a
// pair of words next to each other in a passage that is also next to each
// other in a paragraph was copied from that place.
func setup(t *testing.T) (Set, map[string]int) {
	t.Helper()
	var s Set
	pos := map[string]int{}
	for p := range 40 {
		var ws []string
		for i := range 20 + p%7*10 { // 20 to 80 words
			w := fmt.Sprintf("w%d_%d", p, i)
			pos[w] = p*1000 + i
			ws = append(ws, w)
		}
		s.Paragraphs = append(s.Paragraphs, strings.Join(ws, " "))
		s.Questions = append(s.Questions, Question{Text: "q", Paragraph: p})
	}
	return s, pos
}

func TestSyntheticIsDeterministic(t *testing.T) {
	s, _ := setup(t)
	a, b := Synthetic(s, 30, 7), Synthetic(s, 30, 7)
	if !slices.Equal(a, b) {
		t.Fatal("the same set, n and seed gave different passages")
	}
	if c := Synthetic(s, 30, 8); slices.Equal(a, c) {
		t.Fatal("another seed gave the same passages")
	}
}

func TestSyntheticSizes(t *testing.T) {
	s, _ := setup(t)
	lengths := map[int]bool{}
	for _, p := range s.Paragraphs {
		lengths[len(strings.Fields(p))] = true
	}
	tests := []struct{ n, want int }{{0, 0}, {-1, 0}, {1, 1}, {400, 400}}
	for _, tt := range tests {
		got := Synthetic(s, tt.n, 1)
		if len(got) != tt.want {
			t.Fatalf("Synthetic(n=%d) made %d passages, want %d", tt.n, len(got), tt.want)
		}
		for _, p := range got {
			if n := len(strings.Fields(p)); !lengths[n] {
				t.Fatalf("a passage of %d words: not the length of any paragraph", n)
			}
		}
	}
	if got := Synthetic(Set{}, 5, 1); got != nil {
		t.Fatalf("an empty set made %d passages", len(got))
	}
}

// TestSyntheticCopiesShortRunsOnly: no passage follows one paragraph for
// more than maxRun words, yet the chain does follow paragraphs (runs of
// maxRun occur), and every word is a word of the set.
func TestSyntheticCopiesShortRunsOnly(t *testing.T) {
	s, pos := setup(t)
	longest := 0
	for _, p := range Synthetic(s, 300, 3) {
		ws := strings.Fields(p)
		run := 1
		for i, w := range ws {
			at, ok := pos[w]
			if !ok {
				t.Fatalf("word %q is not a word of the set", w)
			}
			if i > 0 && at == pos[ws[i-1]]+1 {
				run++
			} else {
				run = 1
			}
			longest = max(longest, run)
		}
	}
	if longest != maxRun {
		t.Fatalf("longest copied run %d words, want %d", longest, maxRun)
	}
}

// TestSyntheticMixesParagraphs: on a real-language set, the passages'
// words come from many paragraphs (they are about nothing in particular),
// and a question's paragraph is not reproduced.
func TestSyntheticMixesParagraphs(t *testing.T) {
	s, err := ReadSQuAD(miniSet, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Synthetic(s, 50, 1) {
		for _, para := range s.Paragraphs {
			if p == para {
				t.Fatalf("a synthetic passage is a paragraph of the set: %q", p)
			}
		}
	}
}

func TestReadPassages(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("docs/a.md", "# A\n\nfirst passage\n")
	write("docs/sub/b.txt", "second passage")
	write("docs/c.png", "not text")
	write("docs/empty.md", "  \n")
	note := write("note.markdown", "\none passage\n\nwith two paragraphs\n")
	empty := write("empty.txt", "\n")
	noParas := write("empty.json", `{"data": []}`)
	bad := write("bad.json", `{"data": [`)
	tests := []struct {
		path    string
		want    []string
		wantErr string
	}{
		{miniSet, nil, ""}, // checked below
		{filepath.Join(dir, "docs"), []string{"# A\n\nfirst passage", "second passage"}, ""},
		{note, []string{"one passage\n\nwith two paragraphs"}, ""},
		{empty, nil, "holds no passage"},
		{noParas, nil, "holds no passage"},
		{bad, nil, "not SQuAD JSON"},
		{filepath.Join(dir, "missing.md"), nil, "no such file"},
	}
	for _, tt := range tests {
		got, err := ReadPassages(tt.path)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one with %q", tt.path, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.want != nil && !slices.Equal(got, tt.want):
			t.Errorf("%s: %q, want %q", tt.path, got, tt.want)
		}
	}
	set, _ := ReadSQuAD(miniSet, 0)
	if got, _ := ReadPassages(miniSet); !slices.Equal(got, set.Paragraphs) {
		t.Errorf("a SQuAD file's passages are %q, want its paragraphs", got)
	}
}

func TestReadSQuAD(t *testing.T) {
	s, err := ReadSQuAD(miniSet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Paragraphs) != 5 || len(s.Questions) != 7 || s.Questions[6].Paragraph != 4 {
		t.Fatalf("read %d paragraphs, %d questions (%+v)", len(s.Paragraphs), len(s.Questions), s.Questions)
	}
	if s, _ := ReadSQuAD(miniSet, 3); len(s.Questions) != 3 {
		t.Fatalf("--questions 3 kept %d", len(s.Questions))
	}
	if _, err := ReadPassages(miniSet); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	noQ := filepath.Join(dir, "noq.json")
	if err := os.WriteFile(noQ, []byte(`{"data":[{"paragraphs":[{"context":"text","qas":[]}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSQuAD(noQ, 0); err == nil || !strings.Contains(err.Error(), "no questions") {
		t.Fatalf("a file without questions: %v", err)
	}
}
