package markdown

// Exported line classification: every Markdown reader in protostar (this
// package's chunker and the extractive summariser) classifies lines with
// these, so they agree on what is a heading and what is code. Each takes one
// line without its line break.

// Fence is an open fenced code block: its character and length.
type Fence struct {
	ch byte
	n  int
}

// OpenFence reports whether line opens a fenced code block (``` or ~~~,
// three or more, at most three spaces in; a backtick fence's info string
// holds no backtick) and returns the fence.
func OpenFence(line string) (Fence, bool) {
	ch, n, ok := fenceOpen([]byte(line))
	return Fence{ch, n}, ok
}

// Closes reports whether line closes the fence.
func (f Fence) Closes(line string) bool { return isFenceClose([]byte(line), f.ch, f.n) }

// IsATXHeading reports whether line is an ATX heading (`# Title`).
func IsATXHeading(line string) bool {
	_, _, ok := atxHeading([]byte(line))
	return ok
}

// SetextLevel is 1 for a `===` underline, 2 for `---` (two or more), else
// 0: what turns the one-line paragraph above it into a heading.
func SetextLevel(line string) int { return setextLevel([]byte(line)) }
