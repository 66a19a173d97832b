package cli

import (
	"fmt"
	"io"
	"strings"
)

// barWidth is the number of cells of a progress bar.
const barWidth = 20

// progressBar renders "ingesting 12/40 docs ▕█████░░░░░░░░░░░░░░░▏ 30%".
func progressBar(what string, done, total int) string {
	total = max(total, 0)
	done = min(max(done, 0), total)
	filled, pct := 0, 0
	if total > 0 {
		filled, pct = done*barWidth/total, done*100/total
	}
	return fmt.Sprintf("%s %d/%d docs ▕%s%s▏ %d%%", what, done, total,
		strings.Repeat("█", filled), strings.Repeat("░", barWidth-filled), pct)
}

// statusLine redraws one line of a terminal in place.
type statusLine struct {
	w     io.Writer
	drawn bool
}

// set replaces the line's text.
func (l *statusLine) set(text string) {
	fmt.Fprint(l.w, "\r\033[K"+text)
	flush(l.w)
	l.drawn = true
}

// keep ends the line, leaving its text on screen.
func (l *statusLine) keep() {
	if l.drawn {
		fmt.Fprintln(l.w)
		l.drawn = false
	}
}

// clear erases the line.
func (l *statusLine) clear() {
	if l.drawn {
		fmt.Fprint(l.w, "\r\033[K")
		flush(l.w)
		l.drawn = false
	}
}
