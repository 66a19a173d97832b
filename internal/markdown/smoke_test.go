package markdown

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestSmoke(t *testing.T) {
	in := "---\ntitle: Hello\ntags: [a, b]\n---\n# Guide\n\nIntro paragraph. Second sentence here.\n\n## 설치\n\n우리는 데이터베이스를 튜닝했다. 그리고 결과를 확인했다! 정말인가?\n\n```go\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n```\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 | 4 |\n\nSetext\n------\n\ntext\n"
	c, err := NewChunker(strings.NewReader(in), Options{MaxTokens: 16})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ch, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("#%d %q tok=%d\n  TEXT %q\n  BODY %q\n", ch.Ordinal, ch.HeadingPath, ch.Tokens, ch.Text, ch.Body)
	}
	fmt.Println(c.FrontMatter(), c.BytesRead(), len(in))
}
