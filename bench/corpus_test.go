package main

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/protostar/protostar"
)

func TestDocumentsAreDeterministicMarkdown(t *testing.T) {
	t.Parallel()
	for i := range 20 {
		a, b := document(seedIngest, i), document(seedIngest, i)
		if !bytes.Equal(a, b) {
			t.Fatalf("document %d differs between two generations", i)
		}
		if !utf8.Valid(a) || len(a) < 2*kib {
			t.Fatalf("document %d: %d bytes, valid UTF-8 %v", i, len(a), utf8.Valid(a))
		}
		rows, _, err := chunkDocument(a)
		if err != nil || len(rows) == 0 {
			t.Fatalf("document %d: %d chunks, err %v", i, len(rows), err)
		}
	}
	if bytes.Equal(document(seedIngest, 1), document(seedSearch, 1)) {
		t.Fatal("corpora of different seeds are equal")
	}
}

func TestStreamReaderYieldsExactSizeOfText(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{0, 1, 100, 4097, 3*mib + 17} {
		var buf bytes.Buffer
		n, err := io.CopyBuffer(&buf, newStreamReader(seedStream, size), make([]byte, 1000))
		if err != nil || n != size {
			t.Fatalf("size %d: read %d bytes, err %v", size, n, err)
		}
		if !utf8.Valid(buf.Bytes()) || bytes.IndexByte(buf.Bytes(), 0) >= 0 {
			t.Fatalf("size %d: not UTF-8 text", size)
		}
		again, _ := io.ReadAll(newStreamReader(seedStream, size))
		if !bytes.Equal(again, buf.Bytes()) {
			t.Fatalf("size %d: not deterministic", size)
		}
	}
}

func TestSplitByRowsKeepsEveryDocument(t *testing.T) {
	t.Parallel()
	docs := make([]docRows, 37)
	for i := range docs {
		docs[i].DocumentID = string(rune('a' + i%26))
		docs[i].Rows = make([]protostar.Chunk, 1+i%5)
	}
	for _, n := range []int{1, 2, 4, 8, 100} {
		groups := splitByRows(docs, n)
		if len(groups) > n {
			t.Fatalf("n=%d: %d groups", n, len(groups))
		}
		total := 0
		for _, g := range groups {
			total += len(g)
		}
		if total != len(docs) {
			t.Fatalf("n=%d: groups hold %d documents of %d", n, total, len(docs))
		}
	}
}
