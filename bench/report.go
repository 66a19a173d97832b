package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one figure as written to bench/results.json. Ratio is
// value/baseline_value. Params say how the figure was measured and, under
// "target" and "met", what it is held to.
type Result struct {
	Name          string         `json:"name"`
	Value         float64        `json:"value"`
	Unit          string         `json:"unit"`
	BaselineName  string         `json:"baseline_name"`
	BaselineValue float64        `json:"baseline_value"`
	Ratio         float64        `json:"ratio"`
	Params        map[string]any `json:"params"`

	target string // human-readable target; empty when the figure has none
	met    bool
}

// newResult builds a result against a baseline; the ratio is computed here.
func newResult(name string, value float64, unit, baselineName string, baselineValue float64, params map[string]any) Result {
	r := Result{Name: name, Value: round(value), Unit: unit, BaselineName: baselineName,
		BaselineValue: round(baselineValue), Params: params}
	if baselineValue != 0 {
		r.Ratio = round(value / baselineValue)
	}
	if r.Params == nil {
		r.Params = map[string]any{}
	}
	return r
}

// withTarget records the figure's target and whether it was met.
func (r Result) withTarget(desc string, met bool) Result {
	r.target, r.met = desc, met
	r.Params["target"] = desc
	r.Params["met"] = met
	return r
}

// status is PASS or MISS for a figure with a target, "" otherwise.
func (r Result) status() string {
	switch {
	case r.target == "":
		return ""
	case r.met:
		return "PASS"
	}
	return "MISS"
}

func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1e4) / 1e4
}

// printTable writes the results as an aligned table, missed targets
// marked.
func printTable(w io.Writer, scale string, results []Result) {
	fmt.Fprintf(w, "\nprotostar benchmarks, scale %s\n\n", scale)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tUNIT\tBASELINE\tBASELINE VALUE\tRATIO\tTARGET\tSTATUS")
	for _, r := range results {
		ratio := ""
		if r.BaselineName != "" {
			ratio = fmt.Sprintf("%.3g", r.Ratio)
		}
		base := ""
		if r.BaselineName != "" {
			base = fmt.Sprintf("%.4g", r.BaselineValue)
		}
		fmt.Fprintf(tw, "%s\t%.4g\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Value, r.Unit, r.BaselineName, base, ratio, r.target, r.status())
	}
	_ = tw.Flush()
	missed := 0
	for _, r := range results {
		if r.status() == "MISS" {
			missed++
		}
	}
	if missed > 0 {
		fmt.Fprintf(w, "\n%d figure(s) missed their target (marked MISS); targets are reported, not asserted.\n", missed)
	}
}

// writeResults writes the results as a JSON array to path, atomically.
// The growth curve and the other figures are separate runs: a run of one
// keeps the other's entries that path already holds.
func writeResults(path string, results []Result) error {
	if old, err := os.ReadFile(path); err == nil && len(results) > 0 {
		var prev []Result
		if json.Unmarshal(old, &prev) == nil {
			curve := isCurve(results[0].Name)
			for _, r := range prev {
				if isCurve(r.Name) != curve {
					results = append(results, r)
				}
			}
		}
	}
	raw, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// latencies collects request durations.
type latencies []time.Duration

// quantile returns the q-quantile (0 < q <= 1) by the nearest-rank method.
func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// describe is a short summary of l for params.
func (l latencies) describe() map[string]any {
	return map[string]any{
		"n": len(l), "p50_ms": round(ms(l.quantile(0.5))), "p90_ms": round(ms(l.quantile(0.9))),
		"p99_ms": round(ms(l.quantile(0.99))), "max_ms": round(ms(l.quantile(1))),
	}
}

// joinNames lists names for messages.
func joinNames(names []string) string {
	slices.SortFunc(names, cmp.Compare[string])
	return strings.Join(names, ", ")
}
