package markdown

import (
	"fmt"
	"strings"
	"testing"
)

func TestDbg(t *testing.T) {
	in := " Beds다설쌌일은틝실끝"
	c, _ := newCounter()
	fmt.Println(c.count(in), c.count("Beds다설쌌일은틝실"), c.count("다설쌌일은틝실끝"))
	res := run(t, strings.NewReader(in), Options{MaxTokens: 17})
	for _, ch := range res.chunks {
		fmt.Printf("%d %q\n", ch.Tokens, ch.Text)
	}
}
