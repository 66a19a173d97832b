package openai

import (
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
)

// markerRE matches one citation marker, [1] or [1, 2] (also [1;2]), with
// the spaces before it. [1][2] is two matches.
var markerRE = regexp.MustCompile(`[ \t]*\[\s*(\d{1,6}(?:\s*[,;]\s*\d{1,6})*)\s*\]`)

// citations finds the [n] markers of answer and returns one Cited per
// distinct passage they name, in order of first citation. Numbers that name
// no passage are ignored.
//
// Markers are removed before the answer is split into sentences, because
// the sentence splitter cuts "done.[1] Next" inside the marker. A marker
// belongs to the sentence it follows, so both "done [1]." and "done. [1]"
// cite "done".
func citations(answer string, passages []protostar.Passage) []protostar.Cited {
	byLabel := make(map[int]int, len(passages)) // label → index in passages
	for i, p := range passages {
		if _, dup := byLabel[label(p, i)]; !dup {
			byLabel[label(p, i)] = i
		}
	}

	type mark struct {
		pos    int // byte offset in the answer without markers
		labels []int
	}
	var (
		b     strings.Builder
		marks []mark
		last  int
	)
	for _, m := range markerRE.FindAllStringSubmatchIndex(answer, -1) {
		b.WriteString(answer[last:m[0]])
		last = m[1]
		var labels []int
		for _, f := range strings.FieldsFunc(answer[m[2]:m[3]], func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
			if n, err := strconv.Atoi(f); err == nil {
				if _, ok := byLabel[n]; ok {
					labels = append(labels, n)
				}
			}
		}
		if len(labels) > 0 {
			marks = append(marks, mark{pos: b.Len(), labels: labels})
		}
	}
	if len(marks) == 0 {
		return nil
	}
	b.WriteString(answer[last:])
	text := b.String()

	sents := lexical.Sentences(text)
	starts := make([]int, len(sents))
	for i, cur := 0, 0; i < len(sents); i++ {
		// Sentences returns trimmed substrings of text in order.
		starts[i] = cur + strings.Index(text[cur:], sents[i])
		cur = starts[i] + len(sents[i])
	}

	var order []int               // labels in order of first citation
	citing := make(map[int][]int) // label → indexes of the sentences citing it
	for _, m := range marks {
		// The last sentence starting before the marker.
		s := sort.Search(len(starts), func(i int) bool { return starts[i] >= m.pos }) - 1
		for _, l := range m.labels {
			if _, seen := citing[l]; !seen {
				order = append(order, l)
				citing[l] = nil
			}
			if s >= 0 && !slices.Contains(citing[l], s) {
				citing[l] = append(citing[l], s)
			}
		}
	}

	out := make([]protostar.Cited, 0, len(order))
	for _, l := range order {
		claims := make([]string, 0, len(citing[l]))
		for _, s := range citing[l] {
			claims = append(claims, sents[s])
		}
		out = append(out, protostar.Cited{Passage: l, Quote: bestSentence(passages[byLabel[l]].Text, claims)})
	}
	return out
}

// bestSentence returns the sentence of passage, verbatim, that overlaps a
// claim most: the cosine of their term sets, each term weighted by how rare
// it is among the passage's sentences, maximised over the claims. Ties go to
// the earlier sentence; with no overlap at all it is the first sentence.
func bestSentence(passage string, claims []string) string {
	sents := lexical.Sentences(passage)
	if len(sents) == 0 {
		return strings.TrimSpace(passage)
	}
	sets := make([]map[string]bool, len(sents))
	df := make(map[string]int)
	for i, s := range sents {
		sets[i] = termSet(s)
		for t := range sets[i] {
			df[t]++
		}
	}
	n := float64(len(sents))
	weight := func(t string) float64 { w := math.Log(1 + n/float64(1+df[t])); return w * w }
	norm := func(set map[string]bool) float64 {
		var sum float64
		for t := range set {
			sum += weight(t)
		}
		return math.Sqrt(sum)
	}
	sentNorms := make([]float64, len(sets))
	for i, set := range sets {
		sentNorms[i] = norm(set)
	}

	best, bestScore := 0, 0.0
	for _, claim := range claims {
		cset := termSet(claim)
		cnorm := norm(cset)
		if cnorm == 0 {
			continue
		}
		for i, set := range sets {
			if sentNorms[i] == 0 {
				continue
			}
			var dot float64
			for t := range cset {
				if set[t] {
					dot += weight(t)
				}
			}
			if score := dot / (cnorm * sentNorms[i]); score > bestScore || (score == bestScore && score > 0 && i < best) {
				best, bestScore = i, score
			}
		}
	}
	return sents[best]
}

func termSet(s string) map[string]bool {
	set := make(map[string]bool)
	lexical.EachTerm(s, func(t string) { set[t] = true })
	return set
}
