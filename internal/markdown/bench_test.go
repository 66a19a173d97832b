package markdown

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// BenchmarkChunker chunks 4 MiB of generated mixed Korean/English Markdown.
func BenchmarkChunker(b *testing.B) {
	data, err := io.ReadAll(newGenReader(4<<20, 1))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := NewChunker(bytes.NewReader(data), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := c.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n), "chunks/op")
	}
}

// BenchmarkChunkerDocuments chunks 64 generated 16 KiB documents, as a
// worker does one after another, with and without a shared TokenCache.
func BenchmarkChunkerDocuments(b *testing.B) {
	docs := make([][]byte, 64)
	size := 0
	for i := range docs {
		data, err := io.ReadAll(newGenReader(16<<10, uint64(i+1)))
		if err != nil {
			b.Fatal(err)
		}
		docs[i] = data
		size += len(data)
	}
	for _, shared := range []bool{false, true} {
		b.Run(map[bool]string{false: "own", true: "shared"}[shared], func(b *testing.B) {
			var cache *TokenCache
			if shared {
				cache = NewTokenCache()
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				for _, d := range docs {
					c, err := NewChunker(bytes.NewReader(d), Options{Tokens: cache})
					if err != nil {
						b.Fatal(err)
					}
					for {
						if _, err := c.Next(); errors.Is(err, io.EOF) {
							break
						} else if err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}
