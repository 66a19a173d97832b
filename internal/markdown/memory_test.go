package markdown

import (
	"errors"
	"io"
	"runtime"
	"testing"
)

// sentenceLine yields size bytes of sentences on a single line.
type sentenceLine struct {
	left int64
	off  int
}

func (s *sentenceLine) Read(p []byte) (int, error) {
	const text = "데이터베이스를 튜닝했다. The quick brown fox jumps over the lazy dog! "
	if s.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], text[s.off:])
		n += k
		s.off = (s.off + k) % len(text)
	}
	return endAtRune(p, n, &s.left), nil
}

// TestBoundedMemory chunks large generated inputs, never held in memory,
// and checks that the heap stays small whatever the input size.
// It does not run in parallel, so that the heap is the chunker's.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("chunks 264 MiB of generated input")
	}
	const limit = 64 << 20
	tests := []struct {
		name string
		size int64
		r    func(size int64) io.Reader
	}{
		{"markdown", 200 << 20, func(size int64) io.Reader { return newGenReader(size, 42) }},
		{"one line", 64 << 20, func(size int64) io.Reader { return &sentenceLine{left: size} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GC()
			var ms runtime.MemStats
			c, err := NewChunker(tt.r(tt.size), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var peak uint64
			chunks := 0
			for {
				_, err := c.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if chunks++; chunks%256 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
			}
			if got := c.BytesRead(); got != tt.size {
				t.Errorf("BytesRead = %d, want %d", got, tt.size)
			}
			t.Logf("%d MiB in %d chunks, peak HeapInuse %.1f MiB", tt.size>>20, chunks, float64(peak)/(1<<20))
			if peak > limit {
				t.Errorf("peak HeapInuse %d MiB > %d MiB", peak>>20, limit>>20)
			}
		})
	}
}
