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
