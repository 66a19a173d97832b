package hashembed

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/lexical"
)

func setup(t testing.TB, dim int) *Embedder {
	t.Helper()
	return setupModel(t, ModelSparse, dim)
}

func setupModel(t testing.TB, model string, dim int) *Embedder {
	t.Helper()
	e, err := NewModel(model, dim)
	if err != nil {
		t.Fatalf("NewModel(%s, %d): %v", model, dim, err)
	}
	return e
}

var models = []string{ModelSparse, ModelDense}

func embedOne(t testing.TB, e *Embedder, text string) []float32 {
	t.Helper()
	vs, err := e.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatalf("Embed(%q): %v", text, err)
	}
	return vs[0]
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestNewValidatesDimensions(t *testing.T) {
	t.Parallel()
	for _, dim := range []int{-1, 0, 7, 4097, 1 << 20} {
		_, err := New(dim)
		if err == nil {
			t.Errorf("New(%d) succeeded, want an error", dim)
			continue
		}
		if protostar.ErrorCode(err) != protostar.EINVALID || !strings.Contains(err.Error(), strconv.Itoa(dim)) {
			t.Errorf("New(%d) = %v (code %s), want EINVALID naming the value", dim, err, protostar.ErrorCode(err))
		}
	}
	for _, dim := range []int{8, 384, 4096} {
		e := setup(t, dim)
		if e.Dimensions() != dim || e.Model() != "hash-v1" {
			t.Errorf("New(%d) = %d dims, model %q", dim, e.Dimensions(), e.Model())
		}
		if got := len(embedOne(t, e, "hello world")); got != dim {
			t.Errorf("dim %d: vector has %d entries", dim, got)
		}
	}
}

func TestEmbedUnitNorm(t *testing.T) {
	t.Parallel()
	for _, model := range models {
		testUnitNorm(t, setupModel(t, model, 256))
	}
}

func testUnitNorm(t *testing.T, e *Embedder) {
	texts := []string{
		"", "   \n\t", "--- *** !!!", "x", "가",
		"데이터베이스를 튜닝했다.",
		"PostgreSQL with pgvector stores embeddings next to rows.",
		strings.Repeat("반복 repeat ", 500),
		"\xff\xfe invalid utf-8",
	}
	vs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("got %d vectors for %d texts", len(vs), len(texts))
	}
	for i, v := range vs {
		var sum float64
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("text %q: non-finite component %v", texts[i], x)
			}
			sum += float64(x) * float64(x)
		}
		if math.Abs(math.Sqrt(sum)-1) > 1e-5 {
			t.Errorf("%s, text %q: norm %v, want 1", e.Model(), texts[i], math.Sqrt(sum))
		}
	}
}

func TestEmbedNoTermsIsFixedUnitVector(t *testing.T) {
	t.Parallel()
	e := setup(t, 16)
	for _, text := range []string{"", " ", "?!", "a"} { // a single Latin letter is no term
		v := embedOne(t, e, text)
		if v[0] != 1 {
			t.Errorf("Embed(%q)[0] = %v, want 1", text, v[0])
		}
	}
}

func TestEmbedDeterministic(t *testing.T) {
	t.Parallel()
	texts := []string{"데이터베이스를 튜닝했다.", "Vector search is fast.", "", "mixed 한국어 English 42"}
	for _, model := range models {
		a, err := setupModel(t, model, 384).Embed(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		// A different embedder, batch and position must give identical bits.
		for i := len(texts) - 1; i >= 0; i-- {
			b := embedOne(t, setupModel(t, model, 384), texts[i])
			for k := range b {
				if math.Float32bits(a[i][k]) != math.Float32bits(b[k]) {
					t.Fatalf("%s, text %q: component %d differs: %v vs %v", model, texts[i], k, a[i][k], b[k])
				}
			}
		}
	}
}

// TestEmbedGolden pins the hash function and weighting, so vectors stored by
// one process stay comparable with those of any later build or machine.
func TestEmbedGolden(t *testing.T) {
	t.Parallel()
	v := embedOne(t, setup(t, 8), "데이터베이스를 PostgreSQL PostgreSQL")
	want := []float32{0, 0, 0.3123012, 0, -0.8410731, 0, -0.3123012, -0.3123012}
	for k := range want {
		if math.Abs(float64(v[k]-want[k])) > 1e-6 {
			t.Fatalf("vector = %v, want %v", v, want)
		}
	}
	v = embedOne(t, setupModel(t, ModelDense, 8), "데이터베이스를 PostgreSQL PostgreSQL")
	want = []float32{0.3953753, -0.032850582, -0.60948825, -0.18126237, -0.18126237, 0.18126237, 0.032850582, -0.60948825}
	for k := range want {
		if math.Abs(float64(v[k]-want[k])) > 1e-6 {
			t.Fatalf("dense vector = %#v, want %v", v, want)
		}
	}
}

// TestDenseSetsEveryDimension checks that the dense model is what its name
// says: one term sets every component (the sparse model sets one), and
// the search layer treats its vectors as dense.
func TestDenseSetsEveryDimension(t *testing.T) {
	t.Parallel()
	for _, dim := range []int{8, 100, 384} {
		v := embedOne(t, setupModel(t, ModelDense, dim), "database")
		for k, x := range v {
			if x == 0 {
				t.Fatalf("dim %d: component %d is 0", dim, k)
			}
		}
	}
	if _, err := NewModel("hash-v3", 384); protostar.ErrorCode(err) != protostar.EINVALID || !strings.Contains(err.Error(), "hash-v3") {
		t.Errorf("NewModel(hash-v3) = %v, want EINVALID naming it", err)
	}
	if m := setupModel(t, ModelDense, 8).Model(); m != ModelDense {
		t.Errorf("Model() = %q, want %q", m, ModelDense)
	}
}

func TestEmbedSimilarity(t *testing.T) {
	t.Parallel()
	for _, model := range models {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			testSimilarity(t, setupModel(t, model, 384))
		})
	}
}

func testSimilarity(t *testing.T, e *Embedder) {
	tests := []struct {
		name     string
		a, b     string
		min, max float64
	}{
		{"korean stem vs particle", "데이터베이스", "데이터베이스를", 0.7, 1},
		{"korean sentence vs stem query", "우리는 어제 데이터베이스를 튜닝했다.", "데이터베이스 튜닝", 0.5, 1},
		{"english case and punctuation", "Vector Search!", "vector search", 0.999, 1},
		{"mixed script", "PostgreSQL에서 벡터 검색", "postgresql 벡터 검색을", 0.6, 1},
		{"unrelated english", "The cat sat on the mat.", "Quarterly revenue grew in Europe.", -0.2, 0.2},
		{"unrelated korean", "고양이가 매트 위에 앉았다.", "분기 매출이 유럽에서 증가했다.", -0.2, 0.2},
		{"unrelated cross script", "데이터베이스를 튜닝했다.", "The cat sat on the mat.", -0.2, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := cosine(embedOne(t, e, tt.a), embedOne(t, e, tt.b))
			if got < tt.min || got > tt.max {
				t.Errorf("cosine(%q, %q) = %.3f, want in [%.2f, %.2f]", tt.a, tt.b, got, tt.min, tt.max)
			}
		})
	}
}

func TestEmbedHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := setup(t, 64).Embed(ctx, []string{"one", "two"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Embed with canceled ctx = %v, want context.Canceled", err)
	}
	vs, err := setup(t, 64).Embed(context.Background(), nil)
	if err != nil || len(vs) != 0 {
		t.Fatalf("Embed(nil) = %v, %v; want empty, nil", vs, err)
	}
}

// benchText is a realistic mixed Korean/English Markdown chunk.
var benchText = strings.Repeat(`## 벡터 검색 구성

PostgreSQL의 pgvector 확장은 임베딩을 행과 함께 저장하고, HNSW 인덱스로 근사 최근접 이웃 검색을 수행합니다.
검색 품질은 청크 크기와 임베딩 모델에 크게 좌우된다. Hybrid search fuses BM25-style keyword ranks with
cosine similarity using reciprocal rank fusion (RRF), so exact identifiers like ERR_CONN_42 still match.
`, 8)

func BenchmarkEmbed(b *testing.B) {
	const batch = 16
	texts := make([]string, batch)
	var size int64
	for i := range texts {
		texts[i] = benchText + strconv.Itoa(i)
		size += int64(len(texts[i]))
	}
	e := setup(b, 384)
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTerms compares the allocation-free scanner with lexical.EachTerm,
// which builds a string per term.
func BenchmarkTerms(b *testing.B) {
	b.Run("scanner", func(b *testing.B) {
		var sc termScanner
		var n int
		b.SetBytes(int64(len(benchText)))
		b.ReportAllocs()
		for b.Loop() {
			sc.scan(benchText, func(t []byte) { n += len(t) })
		}
	})
	b.Run("lexical", func(b *testing.B) {
		var n int
		b.SetBytes(int64(len(benchText)))
		b.ReportAllocs()
		for b.Loop() {
			lexical.EachTerm(benchText, func(t string) { n += len(t) })
		}
	})
}
