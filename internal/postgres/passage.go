package postgres

import "github.com/protostar/protostar"

// passageCandidates is how many of the best chunks by their own score a
// keyword search rescores with their passages (see protostar.BM25.Passage)
// when it is asked for fewer. On the development set rescoring 10, 20 or
// 50 ranks the same.
const passageCandidates = 10

// candidates is how many chunks a search ranks by chunk score before the
// passage stage keeps k of them.
func (p keywordPlan) candidates(k int) int {
	if p.bm25.Passage > 0 {
		return max(k, passageCandidates)
	}
	return k
}

// passageRadius is how many chunks on either side of a hit keywordHits
// reads as its passage: protostar.PassageRadius with passage scores on,
// and -1 (no rows) with them off.
func (p keywordPlan) passageRadius() int {
	if p.bm25.Passage > 0 {
		return protostar.PassageRadius
	}
	return -1
}

// passageScore is Passage times the BM25 score of a hit's passage: the
// chunk and up to protostar.PassageRadius chunks on either side of it in
// the same document version, n terms long together, whose tsvectors
// filtered to the query's terms are vec, normalised by the tenant's
// average passage length (avgPassage). tf is scratch space (see bm25Of).
func (p keywordPlan) passageScore(n int64, vec string, tf []int) float64 {
	if p.bm25.Passage <= 0 || vec == "" {
		return 0
	}
	return p.bm25.Passage * p.bm25Of(vec, int(n), p.avgPassage, tf)
}

// avgPassageLen is the average length of a passage when chunks are avgLen
// terms long and documents have chunks/documents chunks on average: a
// document's chunks up to the passage's 2·PassageRadius+1.
func avgPassageLen(st termStats) float64 {
	perDoc := 1.0
	if st.documents > 0 {
		perDoc = float64(st.chunks) / float64(st.documents)
	}
	return st.avgLen * min(perDoc, float64(2*protostar.PassageRadius+1))
}
