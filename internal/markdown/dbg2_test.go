package markdown

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestDbg2(t *testing.T) {
	c, _ := newCounter()
	for _, f := range []string{"testdata/code.md", "testdata/korean.md"} {
		b, _ := os.ReadFile(f)
		res := run(t, strings.NewReader(string(b)), Options{MaxTokens: 512})
		for _, ch := range res.chunks {
			if e := c.count(ch.Text); e != ch.Tokens {
				fmt.Printf("%d vs %d\n%q\n", ch.Tokens, e, ch.Text)
				_, toks, _ := c.codec.Encode(ch.Text)
				fmt.Printf("%q\n", toks)
			}
		}
	}
}
