package extractive

import (
	"math"
	"slices"

	"github.com/protostar/protostar/internal/lexical"
)

// termID numbers the distinct terms of one text or one set of passages.
type termID = int32

// bag is the term frequencies of one sentence, sorted by term id.
type bag struct {
	ids []termID
	tf  []int32
	n   int // number of terms, duplicates included
}

// vocabulary assigns term ids and counts document frequencies.
type vocabulary struct {
	ids map[string]termID
	df  []int32
	n   int // documents added
}

func newVocabulary() *vocabulary { return &vocabulary{ids: make(map[string]termID)} }

// intern returns the ids of terms, registering new ones without counting
// any document frequency.
func (v *vocabulary) intern(terms []string) []termID {
	ids := make([]termID, len(terms))
	for k, t := range terms {
		id, ok := v.ids[t]
		if !ok {
			id = termID(len(v.df))
			v.ids[t] = id
			v.df = append(v.df, 0)
		}
		ids[k] = id
	}
	return ids
}

// add returns the bag of terms, registering new terms and counting each
// distinct term once towards its document frequency.
func (v *vocabulary) add(terms []string) bag {
	v.n++
	return bagOfIDs(v.intern(terms), v.df)
}

// idf returns each term's inverse document frequency ln(1 + n/df) over n
// documents; it is positive even for a term in every document.
func (v *vocabulary) idf(n int) []float64 {
	idf := make([]float64, len(v.df))
	for id, df := range v.df {
		idf[id] = math.Log1p(float64(n) / float64(max(df, 1)))
	}
	return idf
}

// lookup returns the bag of text's terms without registering anything;
// unknown terms are dropped.
func (v *vocabulary) lookup(text string) bag {
	var ids []termID
	lexical.EachTerm(text, func(t string) {
		if id, ok := v.ids[t]; ok {
			ids = append(ids, id)
		}
	})
	return bagOfIDs(ids, nil)
}

func bagOfIDs(ids []termID, df []int32) bag {
	b := bag{n: len(ids)}
	slices.Sort(ids)
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] == ids[i] {
			j++
		}
		b.ids = append(b.ids, ids[i])
		b.tf = append(b.tf, int32(j-i))
		if df != nil {
			df[ids[i]]++
		}
		i = j
	}
	return b
}

func (b bag) has(id termID) bool {
	_, ok := slices.BinarySearch(b.ids, id)
	return ok
}

// vec is a sparse unit vector over term ids, sorted by id.
type vec struct {
	ids []termID
	w   []float64
}

// tfidf weights a bag with sublinear tf times idf and normalises it.
func tfidf(b bag, idf []float64) vec {
	v := vec{ids: b.ids, w: make([]float64, len(b.ids))}
	var sum float64
	for k, id := range b.ids {
		w := (1 + math.Log(float64(b.tf[k]))) * idf[id]
		v.w[k] = w
		sum += w * w
	}
	if sum > 0 {
		inv := 1 / math.Sqrt(sum)
		for k := range v.w {
			v.w[k] *= inv
		}
	}
	return v
}

// dot is the cosine similarity of two unit vectors.
func dot(a, b vec) float64 {
	var s float64
	for i, j := 0, 0; i < len(a.ids) && j < len(b.ids); {
		switch {
		case a.ids[i] < b.ids[j]:
			i++
		case a.ids[i] > b.ids[j]:
			j++
		default:
			s += a.w[i] * b.w[j]
			i++
			j++
		}
	}
	return s
}

// docs is the number of bags added so far.
func (v *vocabulary) docs() int { return v.n }
