package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"10k,100k,1M", []int{10_000, 100_000, 1_000_000}, false},
		{"100000, 10000", []int{10_000, 100_000}, false},
		{"10k,10000", []int{10_000}, false},
		{"", nil, true},
		{"10x", nil, true},
		{"500", nil, true},
	}
	for _, tt := range tests {
		got, err := parsePoints(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parsePoints(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// syntheticPoints are three measured points, as curve returns them.
func syntheticPoints() []curvePoint {
	var out []curvePoint
	for i, n := range []int{10_000, 100_000, 1_000_000} {
		p := curvePoint{Chunks: n, Docs: n / 100, LoadSeconds: float64(n) / 5000,
			Build:  map[string]float64{benchSpaceIndex: float64(n) / 2000, keywordIndex: float64(n) / 20000},
			Sizes:  relSizes{Table: int64(n) * 3000, Indexes: int64(n) * 2500, Total: int64(n) * 5500, HNSW: int64(n) * 2000},
			Search: map[string]curveSearch{}, Recall: 0.97 - float64(i)/100,
			Ingest: pipelineRun{rate: 700 - float64(i)*100}}
		for j, mode := range curveModes {
			var lat latencies
			for k := range 100 {
				lat = append(lat, time.Duration(1+i+j)*time.Duration(k+1)*100*time.Microsecond)
			}
			p.Search[mode] = curveSearch{res: loadResult{lat: lat, seconds: 1}, cpu: map[string]float64{"postgres": 1, "serve": 0.2}}
		}
		out = append(out, p)
	}
	return out
}

func TestCurveDocs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doc := filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(doc, []byte("# B\n\n"+curveBegin+"\nold table\n"+curveEnd+"\n\n## After\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	points := syntheticPoints()
	if err := writeCurveDocs(doc, points); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(doc)
	s := string(raw)
	for _, want := range []string{"| 1,000,000 |", "| 10,000 |", "](benchmarks-curve.svg)", "## After", curveEnd} {
		if !strings.Contains(s, want) {
			t.Errorf("the document lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "old table") {
		t.Errorf("the old section was kept:\n%s", s)
	}
	svg, err := os.ReadFile(filepath.Join(dir, curveSVG))
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		XMLName xml.Name
		Paths   []struct{} `xml:"path"`
	}
	if err := xml.Unmarshal(svg, &root); err != nil || root.XMLName.Local != "svg" {
		t.Fatalf("the chart is not SVG: %v", err)
	}
	if n := strings.Count(string(svg), "<path"); n != 3+6+1+1 { // three axes, six latency lines, ingest, bytes
		t.Errorf("the chart has %d paths, want 11", n)
	}
	if out := os.Getenv("CURVE_SVG_OUT"); out != "" {
		_ = os.WriteFile(out, svg, 0o644)
	}
	rs := curveResults(points)
	if len(rs) != 3*10 {
		t.Errorf("%d results, want 30", len(rs))
	}
	for _, r := range rs {
		if strings.HasPrefix(r.Name, "curve/1000000/search/vector/p99") && r.target == "" {
			t.Errorf("%s has no target at 1M", r.Name)
		}
	}
}
