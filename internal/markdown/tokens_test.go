package markdown

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// checkCount compares the counter with the codec's own Count.
func checkCount(t *testing.T, c *counter, s string) {
	t.Helper()
	want, err := c.codec.Count(s)
	if err != nil {
		t.Fatalf("codec.Count(%q): %v", s, err)
	}
	if got := c.count(s); got != want {
		t.Fatalf("count(%q) = %d, want %d (codec)", s, got, want)
	}
}

func TestCounterMatchesCodec(t *testing.T) {
	t.Parallel()
	c, err := newCounter(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []string{
		"", " ", "  ", "\n", "\n\n", " \n ", "a  b", "a \t\nb", "x   \n\n   y",
		"it's", "IT'S", "we're", "WE'LL", "I'd", "'ſ", "'sup", "'hello", "can't've",
		"x123456", "$1,000.00", "Ⅻ½", " 123", "...World", ".World", "():\n\n    x",
		"\u3000한국어\u3000문장", "\u00a0nbsp", "tab\tsep", "\r\n\r\n", "end.\r",
		"emoji 🎉🎉 ok", "mixed中文テキスト", "🎉abc", " !!!\n", "a\u2028b", "  \u0085x",
	}
	for _, s := range cases {
		checkCount(t, c, s)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkCount(t, c, string(b))
	}
	gen, err := io.ReadAll(io.LimitReader(newGenReader(1<<20, 7), 256<<10))
	if err != nil {
		t.Fatal(err)
	}
	checkCount(t, c, string(gen))
	// Again, now from the cache.
	checkCount(t, c, string(gen))
}

// FuzzCounter checks the counter's own pretokenizer against the codec.
func FuzzCounter(f *testing.F) {
	for _, s := range []string{"it's 12345 ...\n\n  x", "한국어 문장이다.\n", " \t\u3000\n a"} {
		f.Add(s)
	}
	c, err := newCounter(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		checkCount(t, c, s)
	})
}

// TestSharedTokenCache chunks documents concurrently through one shared
// cache and expects the chunks a chunker without it makes.
func TestSharedTokenCache(t *testing.T) {
	t.Parallel()
	docs := make([]string, 4)
	for i := range docs {
		data, err := io.ReadAll(newGenReader(64<<10, uint64(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = string(data)
	}
	chunks := func(doc string, shared *TokenCache) []Chunk {
		c, err := NewChunker(strings.NewReader(doc), Options{MaxTokens: 128, Tokens: shared})
		if err != nil {
			t.Error(err)
			return nil
		}
		var out []Chunk
		for {
			ch, err := c.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Error(err)
				return out
			}
			out = append(out, ch)
		}
	}
	shared := NewTokenCache()
	var wg sync.WaitGroup
	for round := range 3 {
		for i, doc := range docs {
			wg.Go(func() {
				want := chunks(doc, nil)
				got := chunks(doc, shared)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("round %d, document %d: %d chunks through the shared cache differ from %d without", round, i, len(got), len(want))
				}
			})
		}
	}
	wg.Wait()
}
