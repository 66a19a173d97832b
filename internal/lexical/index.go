package lexical

import (
	"github.com/kljensen/snowball/english"
)

// EachIndexTerm calls fn for every term keyword search indexes and queries
// in s: EachTerm's terms, with English words reduced to their Snowball
// (Porter2) stem, so that "indexes" finds "index", and English stop words
// ("the", "of", "and") left out. Bigrams of Korean and other scripts
// written without spaces, single syllables, numbers and words of other
// scripts pass through unchanged. Ingest stores these terms and search
// builds its queries from them, so both sides always agree.
func EachIndexTerm(s string, fn func(term string)) {
	var stems map[string]string // a text repeats its words: stem each once
	EachTerm(s, func(t string) {
		if !isASCIIWord(t) {
			fn(t)
			return
		}
		if english.IsStopWord(t) {
			return
		}
		if len(t) <= 2 {
			fn(t) // Stem returns short words as they are
			return
		}
		stem, ok := stems[t]
		if !ok {
			if stems == nil {
				stems = make(map[string]string)
			}
			stem = english.Stem(t, true)
			stems[t] = stem
		}
		fn(stem)
	})
}

// IndexTerms returns EachIndexTerm's terms of s in order, duplicates
// included.
func IndexTerms(s string) []string {
	var terms []string
	EachIndexTerm(s, func(t string) { terms = append(terms, t) })
	return terms
}

// isASCIIWord reports whether t is made of lower-case ASCII letters only:
// an English word the stemmer applies to. Words with digits ("v2", "utf8")
// are names, not inflected words, and stay whole.
func isASCIIWord(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] < 'a' || t[i] > 'z' {
			return false
		}
	}
	return t != ""
}
