package markdown

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestDbg(t *testing.T) {
	c, _ := newCounter()
	for _, name := range []string{"testdata/guide.md", "testdata/korean.md", "testdata/code.md"} {
		b, _ := os.ReadFile(name)
		in := strings.Repeat(string(b), 20)
		for _, mx := range []int{32, 64, 128, 512} {
			res := run(t, strings.NewReader(in), Options{MaxTokens: mx})
			over, under, maxd, sum, exact := 0, 0, 0, 0, 0
			for _, ch := range res.chunks {
				e := c.count(ch.Text)
				d := ch.Tokens - e
				if d < 0 {
					under++
					maxd = max(maxd, -d)
				} else if d > 0 {
					over++
				}
				sum += ch.Tokens
				exact += e
				if e > mx && ch.Tokens <= mx {
					fmt.Printf("EXACT OVER: %d %d %q\n", e, ch.Tokens, ch.Text)
				}
			}
			fmt.Printf("%s max=%d chunks=%d over=%d under=%d maxunder=%d sum=%d exact=%d\n", name, mx, len(res.chunks), over, under, maxd, sum, exact)
		}
	}
}
