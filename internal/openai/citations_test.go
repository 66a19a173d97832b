package openai

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/protostar/protostar"
)

func TestCitations(t *testing.T) {
	t.Parallel()
	passages := []protostar.Passage{
		{Index: 1, Text: "Go was designed at Google. Go compiles to native code quickly. It has a garbage collector."},
		{Index: 2, Text: "The go tool formats code with gofmt. Tests run with go test."},
		{Index: 5, Text: "데이터베이스는 데이터를 저장한다. 인덱스는 데이터베이스 검색을 빠르게 한다."},
	}
	tests := []struct {
		name   string
		answer string
		want   []protostar.Cited
	}{
		{"no markers", "I cannot answer this from the documents.", nil},
		{"out of range only", "Something [4][99].", nil},
		{
			"single marker before the period",
			"Go has a garbage collector [1].",
			[]protostar.Cited{{Passage: 1, Quote: "It has a garbage collector."}},
		},
		{
			"marker after the period belongs to the sentence before",
			"Go compiles quickly.[1] Tests use go test. [2]",
			[]protostar.Cited{{Passage: 1, Quote: "Go compiles to native code quickly."}, {Passage: 2, Quote: "Tests run with go test."}},
		},
		{
			"adjacent and comma lists, distinct passages in first-cited order",
			"Code is formatted by gofmt [2][1]. Go was designed at Google [1, 2].",
			[]protostar.Cited{{Passage: 2, Quote: "The go tool formats code with gofmt."}, {Passage: 1, Quote: "Go was designed at Google."}},
		},
		{
			"labels are passage indexes, not positions",
			"인덱스는 검색을 빠르게 한다 [5]. 없는 문서 [3].",
			[]protostar.Cited{{Passage: 5, Quote: "인덱스는 데이터베이스 검색을 빠르게 한다."}},
		},
		{
			"no overlap falls back to the first sentence",
			"Unrelated words here [2].",
			[]protostar.Cited{{Passage: 2, Quote: "The go tool formats code with gofmt."}},
		},
		{
			"marker alone",
			"[1]",
			[]protostar.Cited{{Passage: 1, Quote: "Go was designed at Google."}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, citations(tt.answer, passages)); diff != "" {
				t.Errorf("citations(%q) (-want +got):\n%s", tt.answer, diff)
			}
		})
	}
}

func TestCitationsUnindexedPassages(t *testing.T) {
	t.Parallel()
	passages := []protostar.Passage{{Text: "Alpha is first."}, {Text: "Beta is second."}}
	got := citations("Beta comes second [2].", passages)
	want := []protostar.Cited{{Passage: 2, Quote: "Beta is second."}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
