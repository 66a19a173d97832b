package markdown

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestDbg2(t *testing.T) {
	c, _ := newCounter()
	b, _ := os.ReadFile("testdata/korean.md")
	in := strings.Repeat(string(b), 20)
	res := run(t, strings.NewReader(in), Options{MaxTokens: 64})
	for _, ch := range res.chunks {
		if e := c.count(ch.Text); e > ch.Tokens {
			fmt.Printf("%d vs %d\n%q\n", ch.Tokens, e, ch.Text)
			return
		}
	}
}
