package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/protostar/protostar/internal/evalset"
)

// TestEvalFlagErrors: bad distractor flags are refused before anything
// is sent to the server, with an error that names the flag or the file.
func TestEvalFlagErrors(t *testing.T) {
	url := fakeAPI(t, http.NewServeMux()) // any request would fail: none is expected
	const data = "../../e2e/testdata/squad-mini.json"
	empty := filepath.Join(t.TempDir(), "empty.md")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"--distractor-factor", "-1"}, 2, "--distractor-factor must be between 0 and 100"},
		{[]string{"--distractor-factor", "101"}, 2, "--distractor-factor must be between 0 and 100"},
		{[]string{"--distractor-factor", "NaN"}, 2, "--distractor-factor must be between 0 and 100"},
		{[]string{"--distractor-factor", "ten"}, 2, "invalid value \"ten\" for flag -distractor-factor"},
		{[]string{"--distractor-seed", "-3"}, 2, "flag -distractor-seed"},
		{[]string{"--distractors", "nowhere.md"}, 1, "read distractors: stat nowhere.md: no such file"},
		{[]string{"--distractors", data + "," + empty}, 1, "empty.md holds no passage"},
	}
	for _, tt := range tests {
		args := append([]string{"eval", "retrieval", "--data", data}, tt.args...)
		code, _, errOut := runClient(t, url, args...)
		if code != tt.code || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.wantErr)
		}
	}
}

// TestEvalLeavesOutOwnParagraphs: a distractor file that holds the data's
// own paragraphs adds nothing (they would be second right answers).
func TestEvalLeavesOutOwnParagraphs(t *testing.T) {
	d := distractorOpts{files: []string{"../../e2e/testdata/squad-mini.json"}, factor: 2, seed: 1}
	var errb strings.Builder
	set := mustReadSet(t)
	if err := d.load(set, &errb); err != nil {
		t.Fatal(err)
	}
	if len(d.passages) != 10 || d.synthetic != 10 || !strings.Contains(errb.String(), "left out 5 distractor passages") {
		t.Fatalf("%d passages (%d synthetic), stderr %q; want the 10 synthetic ones only", len(d.passages), d.synthetic, errb.String())
	}
	if got := d.describe(len(set.Paragraphs)); !strings.Contains(got, "10 distractor passages, 2.0× the 5 paragraphs") {
		t.Fatalf("describe: %q", got)
	}
}

func mustReadSet(t *testing.T) evalset.Set {
	t.Helper()
	s, err := evalset.ReadSQuAD("../../e2e/testdata/squad-mini.json", 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
