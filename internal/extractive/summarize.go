package extractive

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
)

// Tuning of the summariser. Changing any of them changes output: bump
// PromptVersion.
const (
	maxGraphSentences = 400  // LexRank graph size cap; see pruneToCentral
	minSummaryTerms   = 3    // shorter sentences are fragments, not summaries
	edgeThreshold     = 0.08 // weaker similarities are noise, not graph edges
	damping           = 0.85
	maxIterations     = 200
	convergence       = 1e-10 // L1 change of the rank vector
	nearDuplicate     = 0.6   // cosine above which a sentence adds nothing new
	longSentenceTerms = 60    // longer "sentences" are usually run-on lists
)

// summaryLength is the sentence budget of a summary length: at most max
// sentences and at most frac of the text's candidate sentences, so a short
// text is not returned whole.
type summaryLength struct {
	max  int
	frac float64
}

func lengthSpec(length string) summaryLength {
	switch length {
	case "short":
		return summaryLength{max: 3, frac: 0.25}
	case "long":
		return summaryLength{max: 12, frac: 0.6}
	default:
		return summaryLength{max: 6, frac: 0.4}
	}
}

func (l summaryLength) sentences(candidates int) int {
	n := int(math.Ceil(float64(candidates) * l.frac))
	return min(max(n, 1), l.max, candidates)
}

// candidate is a sentence eligible for a summary.
type candidate struct {
	text  string
	block int
	pos   int // reading order among candidates
	bag   bag
	vec   vec
}

// Summarize returns the most central sentences of in.Text in their original
// order, cleaned of Markdown: about 3, 6 or 12 sentences for short, medium
// and long (fewer for short texts), joined by spaces; the long reduce output
// puts one sentence per line. Near-duplicate sentences appear once, and
// sentences sharing terms with in.HeadingPath are slightly favoured. An
// empty Length means medium; any other value than short, medium or long is
// EINVALID. A text without sentences gives "" and no error.
//
// For the reduce step (in.Reduce) every input line is one section's summary:
// the result first draws at most one sentence per line, so that it covers
// as many sections as its length allows, and there is no lead bias.
func (g *Generator) Summarize(ctx context.Context, in protostar.SummaryInput) (string, error) {
	length := cmp.Or(in.Length, "medium")
	if !protostar.ValidSummaryLength(length) {
		return "", protostar.Errorf(protostar.EINVALID, "summary length %q is not short, medium or long", in.Length)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("summarize: %w", err)
	}
	cands := summaryCandidates(segment(in.Text, in.Reduce))
	if len(cands) == 0 {
		return "", nil
	}
	cands = pruneToCentral(cands, maxGraphSentences)

	voc := newVocabulary()
	for i := range cands {
		cands[i].bag = voc.add(lexical.Terms(cands[i].text))
	}
	idf := voc.idf(len(cands))
	for i := range cands {
		cands[i].vec = tfidf(cands[i].bag, idf)
	}
	teleport := teleportWeights(cands, voc.lookup(strings.Join(in.HeadingPath, " ")), !in.Reduce)
	rank, err := lexRank(ctx, cands, teleport)
	if err != nil {
		return "", fmt.Errorf("summarize: %w", err)
	}
	for i, c := range cands {
		rank[i] *= lengthFactor(c.bag.n) * contextFactor(c.text)
	}
	picked := pickSentences(cands, rank, lengthSpec(length).sentences(len(cands)), in.Reduce)

	sep := " "
	if in.Reduce && length == "long" {
		sep = "\n"
	}
	var b strings.Builder
	for k, i := range picked {
		if k > 0 {
			b.WriteString(sep)
		}
		b.WriteString(withFinalPunctuation(cands[i].text))
	}
	return b.String(), nil
}

// summaryCandidates returns the prose sentences worth considering, with
// exact duplicates (same terms in the same order) removed. Fragments of
// fewer than minSummaryTerms terms and lead-ins ending in ':' are left out
// unless nothing else is left.
func summaryCandidates(units []unit) []candidate {
	for _, strict := range []bool{true, false} {
		var (
			out  []candidate
			seen = make(map[string]bool)
		)
		for _, u := range units {
			if u.kind != unitSentence {
				continue
			}
			terms := lexical.Terms(u.text)
			if len(terms) == 0 || strict && (len(terms) < minSummaryTerms || strings.HasSuffix(u.text, ":")) {
				continue
			}
			key := strings.Join(terms, " ")
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, candidate{text: u.text, block: u.block, pos: len(out)})
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// pruneToCentral keeps the graph tractable for texts with more than limit
// candidate sentences: it keeps the limit sentences whose terms are most
// common in the text (a cheap centroid score: summed document frequency of
// their distinct terms, averaged over them), in reading order. Callers
// summarise section by section, so this only guards against pathological
// input.
func pruneToCentral(cands []candidate, limit int) []candidate {
	if len(cands) <= limit {
		return cands
	}
	df := make(map[string]int)
	distinct := make([][]string, len(cands))
	for i, c := range cands {
		terms := lexical.Terms(c.text)
		slices.Sort(terms)
		terms = slices.Compact(terms)
		distinct[i] = terms
		for _, t := range terms {
			df[t]++
		}
	}
	score := make([]float64, len(cands))
	for i, terms := range distinct {
		var s float64
		for _, t := range terms {
			s += float64(df[t] - 1) // the sentence itself does not count
		}
		score[i] = s / math.Sqrt(float64(len(terms)))
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(score[b], score[a]) })
	order = order[:limit]
	slices.Sort(order)
	out := make([]candidate, limit)
	for k, i := range order {
		out[k] = cands[i]
		out[k].pos = k
	}
	return out
}

// teleportWeights is the personalisation of PageRank: random jumps favour
// sentences near the start of the text (lead bias, off for the reduce step)
// and sentences sharing terms with the heading path.
func teleportWeights(cands []candidate, heading bag, lead bool) []float64 {
	t := make([]float64, len(cands))
	var sum float64
	for i, c := range cands {
		w := 1.0
		if lead {
			w += 0.5 / float64(1+c.pos)
		}
		if len(heading.ids) > 0 {
			shared := 0
			for _, id := range heading.ids {
				if c.bag.has(id) {
					shared++
				}
			}
			w *= 1 + 0.5*float64(shared)/float64(len(heading.ids))
		}
		t[i] = w
		sum += w
	}
	for i := range t {
		t[i] /= sum
	}
	return t
}

// lexRank is continuous LexRank: PageRank over the graph whose edges are the
// tf-idf cosine similarities between sentences (weak ones dropped), with
// personalised teleportation. It iterates until the rank vector changes by
// less than convergence or maxIterations is reached.
func lexRank(ctx context.Context, cands []candidate, teleport []float64) ([]float64, error) {
	n := len(cands)
	w := make([]float64, n*n)
	rowSum := make([]float64, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			s := dot(cands[i].vec, cands[j].vec)
			if s < edgeThreshold {
				continue
			}
			w[i*n+j], w[j*n+i] = s, s
			rowSum[i] += s
			rowSum[j] += s
		}
	}
	p := slices.Clone(teleport)
	next := make([]float64, n)
	for it := 0; it < maxIterations; it++ {
		if it%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		clear(next)
		var dangling float64
		for i := range n {
			if rowSum[i] == 0 {
				dangling += p[i]
				continue
			}
			c := p[i] / rowSum[i]
			row := w[i*n : (i+1)*n]
			for j, x := range row {
				next[j] += c * x
			}
		}
		var delta float64
		for j := range n {
			v := (1-damping)*teleport[j] + damping*(next[j]+dangling*teleport[j])
			delta += math.Abs(v - p[j])
			p[j] = v
		}
		if delta < convergence {
			break
		}
	}
	return p, nil
}

// lengthFactor discounts fragments and run-on "sentences" (unpunctuated
// lists), which are central by sheer term count rather than by content.
func lengthFactor(terms int) float64 {
	f := 1.0
	if terms < 5 {
		f = float64(terms) / 5
	}
	if terms > longSentenceTerms {
		f = math.Sqrt(float64(longSentenceTerms) / float64(terms))
	}
	return f
}

// contextFactor discounts sentences that open with a connective or pronoun
// pointing back at the previous sentence (그래서, 다만, However, This…): out
// of context, as summaries show them, they read as non sequiturs.
func contextFactor(text string) float64 {
	first, _, _ := strings.Cut(text, " ")
	first = strings.ToLower(strings.TrimRight(first, ",:;"))
	if dependentOpeners[first] {
		return 0.7
	}
	return 1
}

// dependentOpeners is read-only.
var dependentOpeners = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range []string{
		"그래서", "따라서", "그러나", "하지만", "그리고", "또한", "다만", "그러므로",
		"즉", "이때", "이렇게", "이를", "이는", "그러면", "반면", "게다가", "또", "그런데",
		"however", "so", "but", "and", "also", "therefore", "thus", "then", "moreover",
		"furthermore", "this", "these", "that", "those", "it", "they", "such", "hence",
	} {
		m[w] = true
	}
	return m
}()

// pickSentences returns the positions of up to n sentences by descending
// rank, skipping near-duplicates of sentences already picked, in reading
// order. With perBlock, a first round takes at most one sentence per block.
func pickSentences(cands []candidate, rank []float64, n int, perBlock bool) []int {
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rank[b], rank[a]) })
	var picked []int
	taken := make([]bool, len(cands))
	usedBlock := make(map[int]bool)
	rounds := []bool{false}
	if perBlock {
		rounds = []bool{true, false}
	}
	for _, onePerBlock := range rounds {
		for _, i := range order {
			if len(picked) == n {
				break
			}
			if taken[i] || onePerBlock && usedBlock[cands[i].block] {
				continue
			}
			if slices.ContainsFunc(picked, func(j int) bool { return dot(cands[i].vec, cands[j].vec) > nearDuplicate }) {
				continue
			}
			taken[i] = true
			usedBlock[cands[i].block] = true
			picked = append(picked, i)
		}
	}
	slices.Sort(picked)
	return picked
}

// withFinalPunctuation ends a sentence with a full stop unless it already
// ends with terminal punctuation, possibly inside quotes or brackets, so
// list items and headings-like lines read as sentences when joined. A
// trailing colon becomes a full stop.
func withFinalPunctuation(s string) string {
	t := strings.TrimRight(s, `"'”’»」』)]`)
	r, _ := utf8.DecodeLastRuneInString(t)
	switch r {
	case '.', '!', '?', '…', '。', '！', '？':
		return s
	case ':', ';', ',':
		if len(t) == len(s) {
			return s[:len(s)-1] + "."
		}
	}
	return s + "."
}
