package console

import (
	"html/template"
	"strings"

	"github.com/protostar/protostar/internal/lexical"
)

// highlight returns text as HTML with every occurrence of the given index
// terms marked: the text is read with the search index's own analysis
// (lexical.EachTermSpan), so a Korean bigram matched by the query marks its
// two syllables wherever they stand, particles attached or not. Everything
// else is escaped.
func highlight(text string, terms []string) template.HTML {
	want := make(map[string]bool, len(terms))
	for _, t := range terms {
		want[t] = true
	}
	var marks [][2]int // byte spans, in order of start
	lexical.EachTermSpan(text, func(term string, start, end int) {
		if !want[term] {
			return
		}
		if n := len(marks); n > 0 && start <= marks[n-1][1] {
			marks[n-1][1] = max(marks[n-1][1], end) // overlapping bigrams join
			return
		}
		marks = append(marks, [2]int{start, end})
	})
	var b strings.Builder
	at := 0
	for _, m := range marks {
		b.WriteString(template.HTMLEscapeString(text[at:m[0]]))
		b.WriteString("<mark>")
		b.WriteString(template.HTMLEscapeString(text[m[0]:m[1]]))
		b.WriteString("</mark>")
		at = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[at:]))
	return template.HTML(b.String()) //nolint:gosec // every piece of text is escaped above
}
