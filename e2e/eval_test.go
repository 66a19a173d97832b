package e2e

import (
	"bytes"
	"context"
	"encoding/json"
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "eval", "retrieval", "--data", "testdata/squad-mini.json", "--json", "--settle", "2500ms")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PROTOSTAR_URL=" + p.URL, "PROTOSTAR_API_KEY=" + platformKey}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("eval: %v\n%s", err, errb.String())
	}
	var res struct {
		Paragraphs, Questions int
		Results               []struct {
			System string
			R1     float64 `json:"r_at_1"`
			R10    float64 `json:"r_at_10"`
			MRR    float64 `json:"mrr_at_10"`
			QPS    float64 `json:"queries_per_second"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output: %v\n%s", err, out.String())
	}
	if res.Paragraphs != 5 || res.Questions != 7 || len(res.Results) != 4 {
		t.Fatalf("eval output = %s", out.String())
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
