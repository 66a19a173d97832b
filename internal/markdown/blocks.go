package markdown

import (
	"bytes"
	"unicode/utf8"
)

// Line classification. Each function takes a line without its LF.

// isBlank reports whether line holds only spaces and tabs.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// indent returns line without up to three leading spaces, and false if it
// is indented further (an indented code line in CommonMark).
func indent(line []byte) ([]byte, bool) {
	for i := 0; i < 4; i++ {
		if i == len(line) || line[i] != ' ' {
			return line[i:], true
		}
	}
	return nil, false
}

// atxHeading parses `## Title ##` into its level and title.
func atxHeading(line []byte) (level int, title []byte, ok bool) {
	l, ok := indent(line)
	if !ok {
		return 0, nil, false
	}
	for level < len(l) && l[level] == '#' {
		level++
	}
	if level == 0 || level > 6 {
		return 0, nil, false
	}
	rest := l[level:]
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
		return 0, nil, false
	}
	rest = bytes.Trim(rest, " \t")
	// Strip a closing sequence of #'s preceded by a space (or making up the
	// whole title).
	end := len(rest)
	for end > 0 && rest[end-1] == '#' {
		end--
	}
	if end == 0 {
		rest = rest[:0]
	} else if end < len(rest) && (rest[end-1] == ' ' || rest[end-1] == '\t') {
		rest = bytes.TrimRight(rest[:end], " \t")
	}
	return level, rest, true
}

// fenceOpen parses an opening code fence: ``` or ~~~ (three or more),
// optionally followed by an info string.
func fenceOpen(line []byte) (ch byte, n int, ok bool) {
	l, ok := indent(line)
	if !ok || len(l) < 3 || (l[0] != '`' && l[0] != '~') {
		return 0, 0, false
	}
	ch = l[0]
	for n < len(l) && l[n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0, false
	}
	if ch == '`' && bytes.IndexByte(l[n:], '`') >= 0 {
		return 0, 0, false // a backtick fence's info string has no backticks
	}
	return ch, n, true
}

// isFenceClose reports whether line closes a fence of n ch's.
func isFenceClose(line []byte, ch byte, n int) bool {
	l, ok := indent(line)
	if !ok {
		return false
	}
	k := 0
	for k < len(l) && l[k] == ch {
		k++
	}
	return k >= n && isBlank(l[k:])
}

// setextLevel returns 1 for a `===` underline, 2 for `---`, else 0.
func setextLevel(line []byte) int {
	l, ok := indent(line)
	if !ok || len(l) == 0 || (l[0] != '=' && l[0] != '-') {
		return 0
	}
	ch := l[0]
	k := 0
	for k < len(l) && l[k] == ch {
		k++
	}
	if !isBlank(l[k:]) || (ch == '-' && k < 2) {
		return 0
	}
	if ch == '=' {
		return 1
	}
	return 2
}

// tableCells counts the cells of a table row: `| a | b |` and `a | b` both
// have two. Escaped pipes do not separate cells.
func tableCells(line []byte) int {
	l := bytes.Trim(line, " \t")
	if len(l) > 0 && l[0] == '|' {
		l = l[1:]
	}
	if len(l) > 0 && l[len(l)-1] == '|' && (len(l) < 2 || l[len(l)-2] != '\\') {
		l = l[:len(l)-1]
	}
	n := 1
	for i := 0; i < len(l); i++ {
		switch l[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

// delimiterCells returns the number of cells of a table delimiter row such
// as `|---|:--:|`, or 0 if line is not one. It needs at least one pipe, so
// that `---` stays a setext underline or thematic break.
func delimiterCells(line []byte) int {
	l := bytes.Trim(line, " \t")
	if bytes.IndexByte(l, '|') < 0 {
		return 0
	}
	if l[0] == '|' {
		l = l[1:]
	}
	if len(l) > 0 && l[len(l)-1] == '|' {
		l = l[:len(l)-1]
	}
	n := 0
	for cell := range bytes.SplitSeq(l, []byte{'|'}) {
		c := bytes.Trim(cell, " \t")
		c = bytes.TrimPrefix(c, []byte{':'})
		c = bytes.TrimSuffix(c, []byte{':'})
		if len(c) == 0 {
			return 0
		}
		for _, b := range c {
			if b != '-' {
				return 0
			}
		}
		n++
	}
	return n
}

// isTableRow reports whether line can continue a table.
func isTableRow(line []byte) bool {
	return bytes.IndexByte(line, '|') >= 0 && !isBlank(line)
}

// startsList reports whether line begins a list item or block quote, where
// a line break is kept as a sentence boundary.
func startsList(line []byte) bool {
	l := bytes.TrimLeft(line, " \t")
	if len(l) == 0 {
		return false
	}
	switch l[0] {
	case '>':
		return true
	case '-', '*', '+':
		return len(l) == 1 || l[1] == ' ' || l[1] == '\t'
	}
	i := 0
	for i < len(l) && i < 9 && l[i] >= '0' && l[i] <= '9' {
		i++
	}
	return i > 0 && i < len(l) && (l[i] == '.' || l[i] == ')') &&
		(i+1 == len(l) || l[i+1] == ' ' || l[i+1] == '\t')
}

// trimEOL drops a trailing LF.
func trimEOL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return b[:len(b)-1]
	}
	return b
}

// truncateRunes cuts s to at most n bytes at a rune boundary.
func truncateRunes(s []byte, n int) []byte {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
