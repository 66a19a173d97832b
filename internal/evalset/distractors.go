package evalset

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// ReadPassages reads distractor passages from path: every paragraph of a
// SQuAD-format .json file (its questions are ignored), every .md,
// .markdown and .txt file under a directory (one passage each, in path
// order), or any other file as one passage.
func ReadPassages(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read distractors: %w", err)
	}
	var out []string
	switch {
	case info.IsDir():
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".md", ".markdown", ".txt":
				text, err := readText(p)
				if text != "" {
					out = append(out, text)
				}
				return err
			}
			return nil
		})
	case strings.EqualFold(filepath.Ext(path), ".json"):
		var s Set
		s, err = readSQuAD(path)
		out = s.Paragraphs
	default:
		var text string
		text, err = readText(path)
		if text != "" {
			out = append(out, text)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read distractors: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read distractors: %s holds no passage (want a SQuAD .json, a text or Markdown file, or a directory of them)", path)
	}
	return out, nil
}

func readText(path string) (string, error) {
	raw, err := os.ReadFile(path)
	return strings.TrimSpace(string(raw)), err
}

// maxRun is the longest run of words a synthetic passage copies from one
// place of one paragraph: longer runs would make it a near-duplicate of a
// paragraph, a different test from unrelated passages.
const maxRun = 4

// Synthetic returns n passages that resemble the set's paragraphs
// statistically but are about nothing in particular, the same for the same
// set, n and seed. Each is a walk of a first-order Markov chain over the
// words (whitespace-separated tokens, punctuation attached) of the
// paragraphs, as many words as a paragraph drawn at random has. The walk
// never follows one paragraph for more than maxRun words in a row: when
// the chain would continue the copy it takes another occurrence of the
// word, or jumps to a random word of the set. So a passage has the set's
// vocabulary, word frequencies and local word order, topics mixed from
// every article, and no more than maxRun-word spans of any paragraph.
func Synthetic(s Set, n int, seed uint64) []string {
	g := newGenerator(s, seed)
	if n <= 0 || len(g.words) == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = g.passage()
	}
	return out
}

// generator is the chain Synthetic walks: the set's words in order, and
// for each word type where it occurs with a successor in its paragraph.
type generator struct {
	rng     *rand.Rand
	words   []string         // every word of every paragraph, in order
	occ     map[string][]int // word -> positions followed by a word of the same paragraph
	starts  []int            // each paragraph's first position
	lengths []int            // each paragraph's word count
}

func newGenerator(s Set, seed uint64) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), occ: map[string][]int{}}
	for _, p := range s.Paragraphs {
		ws := strings.Fields(p)
		if len(ws) == 0 {
			continue
		}
		g.starts, g.lengths = append(g.starts, len(g.words)), append(g.lengths, len(ws))
		for j, w := range ws {
			if j+1 < len(ws) {
				g.occ[w] = append(g.occ[w], len(g.words))
			}
			g.words = append(g.words, w)
		}
	}
	return g
}

// passage walks the chain from a paragraph's first word for a paragraph's
// length of words.
func (g *generator) passage() string {
	n := g.lengths[g.rng.IntN(len(g.lengths))]
	pos, run := g.starts[g.rng.IntN(len(g.starts))], 1
	out := make([]string, 0, n)
	for {
		out = append(out, g.words[pos])
		if len(out) == n {
			return strings.Join(out, " ")
		}
		pos, run = g.step(pos, run)
	}
}

// step picks the position of the next word after the word at pos, the
// last of a run of run words copied in a row: the successor of a random
// occurrence of that word, or a random word when it has none (it ends
// every paragraph it is in) or only the one that would make the run
// longer than maxRun.
func (g *generator) step(pos, run int) (int, int) {
	occ := g.occ[g.words[pos]]
	for try := range 8 {
		next := g.rng.IntN(len(g.words))
		if len(occ) > 0 && try < 4 {
			next = occ[g.rng.IntN(len(occ))] + 1
		}
		switch {
		case next != pos+1:
			return next, 1
		case run < maxRun:
			return next, run + 1
		}
	}
	return (pos + 2) % len(g.words), 1
}
