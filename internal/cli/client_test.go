package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestOneLine(t *testing.T) {
	long := strings.Repeat("가나다라마 ", 40) // 240 runes
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short stays", "hello world", 20, "hello world"},
		{"white space collapses", "  a\n\tb  \r\n c ", 20, "a b c"},
		{"exact length stays", "abcde", 5, "abcde"},
		{"cut at a word boundary", "alpha beta gamma delta", 13, "alpha beta…"},
		{"cut inside a long word", "abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"},
		{"korean is cut by runes", long, 12, "가나다라마 가나다라마…"},
		{"invalid utf-8 is replaced", "a\xffb", 10, "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := oneLine(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("oneLine(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > tt.n {
				t.Errorf("oneLine(%q, %d) = %q: invalid UTF-8 or longer than %d runes", tt.in, tt.n, got, tt.n)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"leading headings dropped", "# 백업\n\n## 매일\n\n새벽 3시에 `pg_basebackup`을 실행한다.", "새벽 3시에 `pg_basebackup`을 실행한다."},
		{"inner headings kept", "intro\n## Next\nbody", "intro ## Next body"},
		{"hashtag is not a heading", "#platform-help 채널에 질문", "#platform-help 채널에 질문"},
		{"a chunk that is only a heading keeps it", "## 자주 묻는 질문", "## 자주 묻는 질문"},
		{"seven hashes are text", "####### x\ny", "####### x y"},
	}
	for _, tt := range tests {
		if got := snippet(tt.in, snippetRunes); got != tt.want {
			t.Errorf("%s: snippet(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("데이터베이스를 매일 백업한다. ", 30)
	if got := snippet(long, snippetRunes); utf8.RuneCountInString(got) > snippetRunes || !strings.HasSuffix(got, "…") {
		t.Errorf("long snippet = %q (%d runes), want at most %d ending in …", got, utf8.RuneCountInString(got), snippetRunes)
	}
}

func TestCollectFiles(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("# x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"docs/a.md", "docs/guides/b.markdown", "docs/guides/깊은/c.MD", "docs/notes.txt",
		"docs/.git/d.md", "docs/.hidden.md", "docs/guides/e.md", "other/a.md", "single.txt"} {
		write(f)
	}
	keys := func(files []ingestFile) []string {
		var ks []string
		for _, f := range files {
			ks = append(ks, f.Key)
		}
		return ks
	}
	tests := []struct {
		name    string
		paths   []string
		want    []string
		wantErr string
	}{
		{name: "folder: relative keys with slashes", paths: []string{"docs"},
			want: []string{"a.md", "guides/b.markdown", "guides/e.md", "guides/깊은/c.MD"}},
		{name: "trailing slash", paths: []string{"docs/guides/"}, want: []string{"b.markdown", "e.md", "깊은/c.MD"}},
		{name: "single file: base name, any extension", paths: []string{"docs/guides/e.md", "single.txt"}, want: []string{"e.md", "single.txt"}},
		{name: "same file twice", paths: []string{"docs/a.md", "docs/a.md"}, want: []string{"a.md"}},
		{name: "two files for one key", paths: []string{"docs", "other"}, wantErr: `would both be stored as "a.md"`},
		{name: "missing path", paths: []string{"nope"}, wantErr: "no such file"},
		{name: "hidden folder named explicitly", paths: []string{"docs/.git"}, want: []string{"d.md"}},
	}
	t.Chdir(root)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := collectFiles(tt.paths)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, keys(files)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
	empty := t.TempDir()
	if _, err := collectFiles([]string{empty}); err == nil || !strings.Contains(err.Error(), "no Markdown files") {
		t.Errorf("empty folder: err = %v, want 'no Markdown files'", err)
	}
}

func TestParseFlagsAnywhere(t *testing.T) {
	tests := []struct {
		args     []string
		wantPos  []string
		wantJSON bool
		wantTopK int
	}{
		{[]string{"q"}, []string{"q"}, false, 0},
		{[]string{"q", "--json"}, []string{"q"}, true, 0},
		{[]string{"--json", "q", "--top-k", "3"}, []string{"q"}, true, 3},
		{[]string{"a", "-top-k=2", "b"}, []string{"a", "b"}, false, 2},
		{[]string{"a", "--", "--json", "-x"}, []string{"a", "--json", "-x"}, false, 0},
		{[]string{"-", "--json"}, []string{"-"}, true, 0},
		{nil, nil, false, 0},
	}
	for _, tt := range tests {
		cmd := newClientCmd("search", "QUERY", "")
		topK := cmd.fs.Int("top-k", 0, "")
		pos, err := cmd.parse(tt.args, &strings.Builder{})
		if err != nil {
			t.Errorf("parse(%q): %v", tt.args, err)
			continue
		}
		if !cmp.Equal(pos, tt.wantPos) || cmd.json != tt.wantJSON || *topK != tt.wantTopK {
			t.Errorf("parse(%q) = %q json=%v top-k=%d, want %q json=%v top-k=%d", tt.args, pos, cmd.json, *topK, tt.wantPos, tt.wantJSON, tt.wantTopK)
		}
	}

	cmd := newClientCmd("search", "QUERY", "")
	var ue usageError
	if _, err := cmd.parse([]string{"q", "--nope"}, &strings.Builder{}); !errors.As(err, &ue) {
		t.Errorf("unknown flag: err = %v, want a usageError", err)
	}
	var help strings.Builder
	if _, err := newClientCmd("search", "QUERY", "about").parse([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "usage: protostar search QUERY") {
		t.Errorf("-h: err = %v, help %q", err, help.String())
	}
}

func TestIsUUID(t *testing.T) {
	tests := map[string]bool{
		"6aa98917-85b6-4eb7-8257-03de03e45293": true,
		"6AA98917-85B6-4EB7-8257-03DE03E45293": true,
		"6aa98917-85b6-4eb7-8257-03de03e4529":  false,
		"6aa98917x85b6-4eb7-8257-03de03e45293": false,
		"6aa98917-85b6-4eb7-8257-03de03e4529g": false,
		"guides/postgres-tuning.ko.md":         false,
		"":                                     false,
	}
	for in, want := range tests {
		if got := isUUID(in); got != want {
			t.Errorf("isUUID(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		done, total int
		want        string
	}{
		{0, 40, "ingesting 0/40 docs ▕░░░░░░░░░░░░░░░░░░░░▏ 0%"},
		{12, 40, "ingesting 12/40 docs ▕██████░░░░░░░░░░░░░░▏ 30%"},
		{40, 40, "ingesting 40/40 docs ▕████████████████████▏ 100%"},
		{0, 0, "ingesting 0/0 docs ▕░░░░░░░░░░░░░░░░░░░░▏ 0%"},
		{5, 3, "ingesting 3/3 docs ▕████████████████████▏ 100%"},
	}
	for _, tt := range tests {
		if got := progressBar("ingesting", tt.done, tt.total); got != tt.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
}
