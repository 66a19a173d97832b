package search

import (
	"cmp"
	"slices"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
)

// Reference is an in-memory BM25 index scored exhaustively in Go over the
// same index terms and formula as keyword search (lexical.EachIndexTerm,
// protostar.BM25): the yardstick `protostar eval retrieval` runs beside
// the service. Add every document, then Search.
type Reference struct {
	bm25     protostar.BM25
	ids      []string
	lens     []int
	total    int
	postings map[string][]refPosting
}

type refPosting struct {
	doc, tf int
}

// RefHit is a document Reference.Search found.
type RefHit struct {
	ID    string
	Score float64
}

// NewReference returns an empty index.
func NewReference(bm25 protostar.BM25) *Reference {
	return &Reference{bm25: bm25, postings: map[string][]refPosting{}}
}

// Add indexes text as the document id.
func (r *Reference) Add(id, text string) {
	doc := len(r.ids)
	tf := map[string]int{}
	n := 0
	lexical.EachIndexTerm(text, func(t string) {
		tf[t]++
		n++
	})
	for t, f := range tf {
		r.postings[t] = append(r.postings[t], refPosting{doc: doc, tf: f})
	}
	r.ids, r.lens = append(r.ids, id), append(r.lens, n)
	r.total += n
}

// Search returns the k best documents for query, best first; equal scores
// go to the document added first.
func (r *Reference) Search(query string, k int) []RefHit {
	if len(r.ids) == 0 {
		return nil
	}
	qtf := map[string]int{} // plain BM25: each occurrence of a term counts once
	lexical.EachIndexTerm(query, func(t string) { qtf[t]++ })
	avg := float64(r.total) / float64(len(r.ids))
	scores := map[int]float64{}
	for t, n := range qtf {
		ps := r.postings[t]
		idf := r.bm25.IDF(int64(len(r.ids)), int64(len(ps)))
		for _, p := range ps {
			scores[p.doc] += float64(n) * idf * r.bm25.TF(p.tf, r.lens[p.doc], avg)
		}
	}
	docs := make([]int, 0, len(scores))
	for d := range scores {
		docs = append(docs, d)
	}
	slices.SortFunc(docs, func(a, b int) int {
		return cmp.Or(cmp.Compare(scores[b], scores[a]), cmp.Compare(a, b))
	})
	out := make([]RefHit, 0, min(k, len(docs)))
	for _, d := range docs[:min(k, len(docs))] {
		out = append(out, RefHit{ID: r.ids[d], Score: scores[d]})
	}
	return out
}
