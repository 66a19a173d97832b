package extractive

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
)

// Tuning of the answerer. Changing any of them changes output: bump
// PromptVersion.
const (
	bm25K1          = 1.2
	bm25B           = 0.75
	minCoverage     = 0.3  // idf-weighted share of the question a sentence must match
	headingWeight   = 0.5  // share of heading-only matches counted towards coverage
	headingBoost    = 0.25 // score boost for a fully matching heading path
	maxAnswerSents  = 4
	relativeCutoff  = 0.5 // later sentences must score at least this share of the best
	maxQuoteGap     = 1   // unused sentences a quote may span between used ones
	minAnswerTerms  = 3
	answerDuplicate = 0.6
)

// No-answer messages, in the question's language.
const (
	NoAnswerEnglish = "The documents do not contain an answer to this question."
	NoAnswerKorean  = "문서에서 이 질문에 대한 답을 찾을 수 없습니다."
)

// answerSentence is a candidate answer sentence of one passage.
type answerSentence struct {
	passage int // index into the passages slice
	unit    int // index into that passage's units
	text    string
	bag     bag
	vec     vec
	score   float64
}

// Answer answers question from passages by extraction. It scores every
// passage sentence by the question words it contains, BM25-style (idf
// weighted, length normalised; Hangul bigrams make 데이터베이스 match
// 데이터베이스를), boosts it a little when the passage's headings match the
// question too, and answers with the best 1 to 4 sentences by relevance,
// cleaned of Markdown, each followed by its citation marker such as " [2]"
// (the Passage.Index). Every cited passage gets one Cited, in order of first
// use, whose Quote is a verbatim span of its Text, white space collapsed,
// that contains every sentence used from it.
//
// When no sentence matches enough of the question's content words the text
// is NoAnswerKorean for questions containing Hangul, else NoAnswerEnglish,
// with no citations.
//
// The text is streamed through onDelta (which may be nil) one sentence at a
// time; the deltas concatenate to the returned text. An error from onDelta,
// or ctx ending, stops the answer: it is returned wrapped, with no text.
func (g *Generator) Answer(ctx context.Context, question string, passages []protostar.Passage, onDelta func(string) error) (string, []protostar.Cited, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, fmt.Errorf("answer: %w", err)
	}
	units := make([][]unit, len(passages))
	voc := newVocabulary()
	var sents []answerSentence
	for p, psg := range passages {
		if err := ctx.Err(); err != nil {
			return "", nil, fmt.Errorf("answer: %w", err)
		}
		units[p] = segment(psg.Text, false)
		for k, u := range units[p] {
			if u.kind != unitSentence {
				continue
			}
			terms := lexical.Terms(u.text)
			if len(terms) < minAnswerTerms {
				continue
			}
			sents = append(sents, answerSentence{passage: p, unit: k, text: u.text, bag: voc.add(terms)})
		}
	}

	// Heading terms join the vocabulary, without document frequency, so
	// that question words found only in headings can match them.
	headings := make([]bag, len(passages))
	for p, psg := range passages {
		text := strings.Join(psg.HeadingPath, " ")
		for _, u := range units[p] {
			if u.kind == unitHeading {
				text += " " + u.text
			}
		}
		headings[p] = bagOfIDs(voc.intern(lexical.Terms(text)), nil)
	}
	words := questionWords(question, voc)
	picked := scoreAndPick(sents, words, headings, voc, units)
	if len(picked) == 0 {
		msg := NoAnswerEnglish
		if containsHangul(question) {
			msg = NoAnswerKorean
		}
		if err := emit(ctx, onDelta, msg); err != nil {
			return "", nil, err
		}
		return msg, nil, nil
	}

	var b strings.Builder
	for k, s := range picked {
		delta := s.text + " [" + strconv.Itoa(passages[s.passage].Index) + "]"
		if k > 0 {
			delta = " " + delta
		}
		if err := emit(ctx, onDelta, delta); err != nil {
			return "", nil, err
		}
		b.WriteString(delta)
	}
	return b.String(), citations(picked, passages, units), nil
}

// emit sends one delta to onDelta, unless ctx has ended.
func emit(ctx context.Context, onDelta func(string) error, delta string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if onDelta == nil {
		return nil
	}
	if err := onDelta(delta); err != nil {
		return fmt.Errorf("stream answer: %w", err)
	}
	return nil
}

// queryWord is one content word of a question: a Latin word with its single
// term, or a Hangul/CJK run with its syllable bigrams in order, stopword
// bigrams removed. Words, not terms, are the unit of matching, so that a
// long Korean noun with five bigrams counts no more than a short one.
type queryWord struct {
	ids    []termID  // -1 for terms no sentence contains
	pos    []float64 // positional weight of each term: 1/(1+k)
	weight float64   // BM25 idf of the word's first term, its stem
}

// questionWords returns the question's distinct content words. A Hangul
// word whose first bigram is a stopword (어디, 무엇, 어떻…) is a question or
// function word and is dropped whole; otherwise only its stopword bigrams
// go, as they are mostly endings (되나요 → 되나, 나요). A word's weight is
// the idf of its first term over the candidate sentences; a term no sentence
// contains gets the highest idf, so a question about something the passages
// never mention has low coverage.
func questionWords(question string, voc *vocabulary) []queryWord {
	n := float64(voc.docs())
	idf := func(df float64) float64 { return math.Log1p((n - df + 0.5) / (df + 0.5)) }
	var (
		words []queryWord
		seen  = make(map[string]bool)
	)
	for _, run := range scriptRuns(question) {
		terms := lexical.Terms(run)
		if len(terms) == 0 || stopwords[terms[0]] {
			continue
		}
		terms = slices.DeleteFunc(terms, func(t string) bool { return stopwords[t] })
		key := strings.Join(terms, " ")
		if seen[key] {
			continue
		}
		seen[key] = true
		w := queryWord{ids: make([]termID, len(terms)), pos: make([]float64, len(terms))}
		for k, t := range terms {
			w.ids[k], w.pos[k] = -1, 1/float64(1+k)
			if id, ok := voc.ids[t]; ok {
				w.ids[k] = id
			}
		}
		if w.ids[0] >= 0 {
			w.weight = idf(float64(voc.df[w.ids[0]]))
		} else {
			w.weight = idf(0)
		}
		words = append(words, w)
	}
	return words
}

// match is how much of the word b contains, from 0 to 1: the positional
// weights of the word's terms found in b over their sum. Early terms weigh
// more because a Korean word's stem comes first and its endings last, so
// 데이터베이스를 matches 데이터베이스는 almost fully and 필요한가요 does not
// match 가요 alone.
func (w queryWord) match(b bag) float64 {
	var got, all float64
	for k, id := range w.ids {
		all += w.pos[k]
		if id >= 0 && b.has(id) {
			got += w.pos[k]
		}
	}
	return got / all
}

// scriptRuns splits s the way lexical forms words: maximal runs of
// bigram-script runes (Hangul, Han, kana) or of other letters and digits.
func scriptRuns(s string) []string {
	var (
		runs  []string
		start = -1
		class int // 1 bigram script, 2 other letter or digit
	)
	for i, r := range s {
		c := 0
		switch {
		case unicode.In(r, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana):
			c = 1
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			c = 2
		}
		if c != class && start >= 0 {
			runs = append(runs, s[start:i])
			start = -1
		}
		if c != 0 && start < 0 {
			start = i
		}
		class = c
	}
	if start >= 0 {
		runs = append(runs, s[start:])
	}
	return runs
}

// scoreAndPick scores sentences against the question words and returns the
// answer sentences in order of relevance. A sentence's coverage is the
// weighted share of question words it matches; its score is that mass with
// BM25 length normalisation, boosted a little when the passage's headings
// match the question too.
func scoreAndPick(sents []answerSentence, words []queryWord, headings []bag, voc *vocabulary, units [][]unit) []answerSentence {
	if len(words) == 0 || len(sents) == 0 {
		return nil
	}
	var total float64
	for _, w := range words {
		total += w.weight
	}
	var avgLen float64
	for _, s := range sents {
		avgLen += float64(s.bag.n)
	}
	avgLen /= float64(len(sents))

	var scored []answerSentence
	for _, s := range sents {
		var covered, headingOnly, inHeading float64
		for _, w := range words {
			m := w.match(s.bag)
			h := w.match(headings[s.passage])
			covered += w.weight * m
			inHeading += w.weight * h
			headingOnly += w.weight * max(h-m, 0)
		}
		if covered == 0 || (covered+headingWeight*headingOnly)/total < minCoverage {
			continue
		}
		norm := (bm25K1 + 1) / (1 + bm25K1*(1-bm25B+bm25B*float64(s.bag.n)/avgLen))
		s.score = covered * norm * (1 + headingBoost*inHeading/total)
		scored = append(scored, s)
	}
	if len(scored) == 0 {
		return nil
	}
	slices.SortStableFunc(scored, func(a, b answerSentence) int { return cmp.Compare(b.score, a.score) })

	idf := voc.idf(len(sents))
	var picked []answerSentence
	for _, s := range scored {
		if len(picked) == maxAnswerSents || s.score < relativeCutoff*scored[0].score {
			break
		}
		s.vec = tfidf(s.bag, idf)
		if slices.ContainsFunc(picked, func(p answerSentence) bool { return dot(p.vec, s.vec) > answerDuplicate }) {
			continue
		}
		if !quotable(picked, s, units[s.passage]) {
			continue
		}
		picked = append(picked, s)
	}
	return picked
}

// quotable reports whether s can join the sentences already picked from its
// passage in one verbatim quote: the span from the first to the last of them
// may include at most maxQuoteGap unused sentences and no heading, code
// block or table.
func quotable(picked []answerSentence, s answerSentence, units []unit) bool {
	lo, hi, n := s.unit, s.unit, 1
	for _, p := range picked {
		if p.passage == s.passage {
			lo, hi, n = min(lo, p.unit), max(hi, p.unit), n+1
		}
	}
	if hi-lo+1-n > maxQuoteGap {
		return false
	}
	return !slices.ContainsFunc(units[lo:hi+1], func(u unit) bool { return u.kind != unitSentence })
}

// citations returns one Cited per passage used, in order of first use, with
// the verbatim span covering every sentence used from it.
func citations(picked []answerSentence, passages []protostar.Passage, units [][]unit) []protostar.Cited {
	var (
		out   []protostar.Cited
		order []int
		lo    = make(map[int]int)
		hi    = make(map[int]int)
	)
	for _, s := range picked {
		if _, ok := lo[s.passage]; !ok {
			order = append(order, s.passage)
			lo[s.passage], hi[s.passage] = s.unit, s.unit
		}
		lo[s.passage] = min(lo[s.passage], s.unit)
		hi[s.passage] = max(hi[s.passage], s.unit)
	}
	for _, p := range order {
		us := units[p]
		quote := passages[p].Text[us[lo[p]].start:us[hi[p]].end]
		out = append(out, protostar.Cited{Passage: passages[p].Index, Quote: collapseSpace(quote)})
	}
	return out
}

// collapseSpace replaces every run of ASCII white space with one space.
// Applying it to a passage's Text and to a quote keeps the quote a
// substring.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		if isASCIISpace(s[i]) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(s[i])
	}
	return b.String()
}

func containsHangul(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}
