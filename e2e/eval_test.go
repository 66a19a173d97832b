package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"
)

const platformKey = "platform-key-0123456789abcdef"

// TestEvalRetrieval runs `protostar eval retrieval` on a small SQuAD-format
// file: it ingests the paragraphs into a scratch tenant, asks every
// question in every mode and reports the metrics beside the reference.
func TestEvalRetrieval(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all", "PROTOSTAR_API_KEYS=*:"+platformKey, "PROTOSTAR_TERM_STATS_INTERVAL=1s")
	var res evalOutput
	runEval(t, p, &res, "--data", "testdata/squad-mini.json")
	if res.Paragraphs != 5 || res.Questions != 7 || len(res.Results) != 4 {
		t.Fatalf("eval output = %+v", res)
	}
	for _, r := range res.Results {
		if r.QPS <= 0 || r.R10 < r.R1 || r.MRR < r.R1 || r.R1 < 0 || r.R10 > 1 {
			t.Errorf("%s: inconsistent figures %+v", r.System, r)
		}
		if r.System != "protostar vector" && r.R1 < 0.99 {
			t.Errorf("%s: R@1 %.3f on questions that name their paragraph's rare words", r.System, r.R1)
		}
	}
	// The scratch tenant is deleted at the end.
	var tenants struct {
		Tenants []struct {
			ID        string  `json:"id"`
			DeletedAt *string `json:"deleted_at"`
		} `json:"tenants"`
	}
	code, body := p.do("GET", "/v1/tenants", platformKey, nil)
	if err := json.Unmarshal(body, &tenants); code != 200 || err != nil {
		t.Fatalf("list tenants: %d %s", code, body)
	}
	for _, tn := range tenants.Tenants {
		if tn.DeletedAt == nil {
			t.Errorf("tenant %s left behind", tn.ID)
		}
	}
}

// evalOutput is the --json output of `protostar eval retrieval`.
type evalOutput struct {
	Paragraphs, Questions int
	Results               []evalFigures
	Distractors           struct {
		Passages, Synthetic int
		Files               []string
	}
	ResultsWithDistractors []evalFigures      `json:"results_with_distractors"`
	Drop                   map[string]float64 `json:"r_at_1_drop"`
}

type evalFigures struct {
	System string
	R1     float64 `json:"r_at_1"`
	R10    float64 `json:"r_at_10"`
	MRR    float64 `json:"mrr_at_10"`
	QPS    float64 `json:"queries_per_second"`
}

// runEval runs `protostar eval retrieval --json args` against p with the
// platform key and decodes its output into out.
func runEval(t *testing.T, p *proc, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append([]string{"eval", "retrieval", "--json", "--settle", "2500ms"}, args...)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PROTOSTAR_URL=" + p.URL, "PROTOSTAR_API_KEY=" + platformKey}
	var stdout, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("eval: %v\n%s", err, errb.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("output: %v\n%s", err, stdout.String())
	}
}

// TestEvalRetrievalDistractors: with a distractor file and factor 2 the
// command measures every system twice in one run, on the paragraphs alone
// and with the distractors in the same tenant, and reports each drop.
func TestEvalRetrievalDistractors(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all", "PROTOSTAR_API_KEYS=*:"+platformKey, "PROTOSTAR_TERM_STATS_INTERVAL=1s")
	var res evalOutput
	runEval(t, p, &res, "--data", "testdata/squad-mini.json", "--modes", "keyword,hybrid",
		"--distractors", "testdata/distractor.md", "--distractor-factor", "2")
	if res.Distractors.Passages != 11 || res.Distractors.Synthetic != 10 ||
		len(res.Results) != 3 || len(res.ResultsWithDistractors) != 3 {
		t.Fatalf("eval output = %+v", res)
	}
	for i, r := range res.ResultsWithDistractors {
		base := res.Results[i]
		if r.System != base.System || r.QPS <= 0 || r.R10 < r.R1 || r.MRR < r.R1 || r.R10 > 1 {
			t.Errorf("%s: inconsistent figures %+v", r.System, r)
		}
		if drop := res.Drop[r.System]; math.Abs(drop-(base.R1-r.R1)) > 1e-9 {
			t.Errorf("%s: drop %.3f, want %.3f - %.3f", r.System, drop, base.R1, r.R1)
		}
	}
	// The keyword statistics count the distractors: protostar ranks as the
	// reference, which indexes them too, does on this set.
	ref, kw := res.ResultsWithDistractors[0], res.ResultsWithDistractors[1]
	if kw.R1 < ref.R1-1e-9 {
		t.Errorf("with distractors keyword R@1 %.3f < reference %.3f", kw.R1, ref.R1)
	}
}
