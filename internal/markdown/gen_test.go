package markdown

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// genReader yields size bytes of generated mixed Korean/English Markdown:
// headings, paragraphs, lists, code blocks and tables. It is deterministic
// for a seed and produces the text on the fly.
type genReader struct {
	rng  *rand.Rand
	left int64
	buf  []byte
	n    int // sections so far
}

func newGenReader(size int64, seed uint64) *genReader {
	return &genReader{rng: rand.New(rand.NewPCG(seed, seed)), left: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	for len(g.buf) < len(p) {
		g.buf = g.section(g.buf)
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return endAtRune(p, n, &g.left), nil
}

// endAtRune limits the n bytes read into p to *left, ending the input at a
// rune boundary (padding with LFs), and returns the count.
func endAtRune(p []byte, n int, left *int64) int {
	if int64(n) >= *left {
		n = int(*left)
		for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
			if utf8.RuneStart(p[i-1]) {
				if !utf8.FullRune(p[i-1 : n]) {
					for j := i - 1; j < n; j++ {
						p[j] = '\n'
					}
				}
				break
			}
		}
	}
	*left -= int64(n)
	return n
}

var (
	genEnglish = strings.Fields("the a data index query worker chunk token embedding search vector " +
		"document section stream memory bounded fast reliable Postgres Redis object storage ingest " +
		"pipeline result cache latency throughput tenant request response model retrieval")
	genKorean = strings.Fields("우리는 데이터베이스를 튜닝했다 인덱스를 추가하고 쿼리를 다시 작성했다 결과는 " +
		"놀라웠다 응답 시간이 빨라졌다 사용자들은 기다리지 않는다 캐시를 도입하는 것이다 " +
		"레디스로 구현한다 모니터링도 잊지 말아야 한다 문서를 검색한다 청크로 나눈다")
)

func (g *genReader) words(b []byte, n int, korean bool) []byte {
	list := genEnglish
	if korean {
		list = genKorean
	}
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, list[g.rng.IntN(len(list))]...)
	}
	return b
}

func (g *genReader) sentence(b []byte) []byte {
	korean := g.rng.IntN(2) == 0
	b = g.words(b, 4+g.rng.IntN(14), korean)
	if korean {
		return append(b, []string{"다.", "다!", "까?"}[g.rng.IntN(3)]...)
	}
	return append(b, ".!?"[g.rng.IntN(3)])
}

func (g *genReader) section(b []byte) []byte {
	g.n++
	level := 1 + g.rng.IntN(3)
	b = fmt.Appendf(b, "%s Section %d ", strings.Repeat("#", level), g.n)
	b = g.words(b, 2, g.rng.IntN(2) == 0)
	b = append(b, "\n\n"...)
	for range 1 + g.rng.IntN(4) {
		switch g.rng.IntN(6) {
		case 0:
			for range 2 + g.rng.IntN(5) {
				b = append(b, "- "...)
				b = g.sentence(b)
				b = append(b, '\n')
			}
		case 1:
			b = append(b, "```go\n"...)
			for i := range 3 + g.rng.IntN(20) {
				b = fmt.Appendf(b, "\tx%d := compute(%d, %q)\n", i, g.rng.IntN(1000), genEnglish[g.rng.IntN(len(genEnglish))])
			}
			b = append(b, "```\n"...)
		case 2:
			b = append(b, "| 이름 | value | note |\n|---|---:|:---|\n"...)
			for range 2 + g.rng.IntN(10) {
				b = append(b, "| "...)
				b = g.words(b, 1, true)
				b = fmt.Appendf(b, " | %d | ", g.rng.IntN(100000))
				b = g.words(b, 3, false)
				b = append(b, " |\n"...)
			}
		default:
			for range 2 + g.rng.IntN(12) {
				b = g.sentence(b)
				b = append(b, ' ')
			}
			b[len(b)-1] = '\n'
		}
		b = append(b, '\n')
	}
	return b
}
