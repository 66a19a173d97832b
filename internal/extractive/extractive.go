// Package extractive is the offline generator: graph-ranked sentence
// extraction for summaries and extractive, cited answers.
//
// It needs no model: summaries are the most central sentences of a text
// (LexRank: PageRank over a tf-idf cosine similarity graph of its sentences),
// and answers are the passage sentences that best match the question
// (BM25 over lexical terms, nudged by matching headings), quoted verbatim
// with their citation markers. Both speak Korean and English alike because
// they work on package lexical's terms, where Hangul is indexed as syllable
// bigrams, and both are deterministic: the same input always gives the same
// output, so results can be cached under Model and PromptVersion.
package extractive

// Generator extracts summaries and answers. It is stateless and safe for
// concurrent use.
type Generator struct{}

// New returns a Generator.
func New() *Generator { return &Generator{} }

// Model names the generator in job results and cache keys.
func (g *Generator) Model() string { return "extractive-v1" }

// PromptVersion changes whenever the extraction algorithm changes in a way
// that changes output, so cached summaries and answers are recomputed.
func (g *Generator) PromptVersion() string { return "v1" }
