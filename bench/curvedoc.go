package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The growth curve in docs/benchmarks.md: a table and an SVG chart that
// the bench draws itself, between two markers that it replaces on every
// curve run.

const (
	curveBegin = "<!-- curve:begin (written by `make bench BENCH_SCALE=curve`) -->"
	curveEnd   = "<!-- curve:end -->"
	curveSVG   = "benchmarks-curve.svg"
)

// writeCurveDocs writes the chart next to doc and replaces the curve
// section of doc.
func writeCurveDocs(doc string, points []curvePoint) error {
	if len(points) == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(doc), curveSVG), curveChart(points), 0o644); err != nil {
		return fmt.Errorf("write the curve chart: %w", err)
	}
	raw, err := os.ReadFile(doc)
	if err != nil {
		return fmt.Errorf("read %s: %w", doc, err)
	}
	i, j := bytes.Index(raw, []byte(curveBegin)), bytes.Index(raw, []byte(curveEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q … %q section", doc, curveBegin, curveEnd)
	}
	var out bytes.Buffer
	out.Write(raw[:i+len(curveBegin)])
	out.WriteString("\n" + curveTable(points))
	out.Write(raw[j:])
	return os.WriteFile(doc, out.Bytes(), 0o644)
}

// curveTable is the section's Markdown.
func curveTable(points []curvePoint) string {
	var b strings.Builder
	m := machine()
	fmt.Fprintf(&b, "\nMeasured %s on %v CPUs (%v), %.1f GiB of memory; the machine is shared.\n\n", time.Now().UTC().Format("2006-01-02"),
		m["cpus"], m["cpu"], m["memory_gib"])
	b.WriteString("| chunks | COPY s | HNSW build s | GIN build s | MiB on disk (chunks + vectors) | bytes/chunk (HNSW) | vector p50 / p99 ms | keyword p50 / p99 ms | hybrid p50 / p99 ms | recall@10 | ingest chunks/s | hybrid CPU ms/request: Postgres, API |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range points {
		lat := func(mode string) string {
			r := p.Search[mode].res
			return fmt.Sprintf("%.0f / %.0f", ms(r.lat.quantile(0.5)), ms(r.lat.quantile(0.99)))
		}
		h := p.Search["hybrid"]
		cpu := cpuPerRequest(h.cpu, h.res.requests())
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f | %.0f | %.0f (%.0f) | %s | %s | %s | %.3f | %.0f | %.1f, %.1f |\n",
			thousands(p.Chunks), p.LoadSeconds, p.Build[benchSpaceIndex], p.Build[keywordIndex], float64(p.Sizes.Total)/mib,
			float64(p.Sizes.Total)/float64(p.Chunks), float64(p.Sizes.HNSW)/float64(p.Chunks),
			lat("vector"), lat("keyword"), lat("hybrid"), p.Recall, p.Ingest.rate, cpu["postgres_cpu_ms_per_request"], cpu["serve_cpu_ms_per_request"])
	}
	b.WriteString("\n![search p50 and p99, ingest throughput and bytes per chunk against the corpus size](" + curveSVG + ")\n")
	if h := points[len(points)-1].Halfvec; h != nil {
		fmt.Fprintf(&b, "\n`vector` against `halfvec` index at %s chunks (the service's VectorSearch, same queries): index %.0f against %.0f MiB, "+
			"built in %.0f against %.0f s, recall@10 %.3f against %.3f, p99 %.0f against %.0f ms.\n",
			thousands(points[len(points)-1].Chunks), float64(h.Bytes["vector"])/mib, float64(h.Bytes["halfvec"])/mib,
			h.Build["vector"], h.Build["halfvec"], h.Recall["vector"], h.Recall["halfvec"],
			ms(h.Lat["vector"].lat.quantile(0.99)), ms(h.Lat["halfvec"].lat.quantile(0.99)))
	}
	return b.String() + "\n"
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// series is one line of a panel.
type series struct {
	name   string
	color  string
	dashed bool
	ys     []float64
}

// curveChart draws three panels against the corpus size on a log scale:
// search p50 (dashed) and p99 by mode, ingest chunks/s, bytes per chunk.
func curveChart(points []curvePoint) []byte {
	xs := make([]float64, len(points))
	for i, p := range points {
		xs[i] = float64(p.Chunks)
	}
	colors := map[string]string{"vector": "#1f77b4", "keyword": "#2ca02c", "hybrid": "#d62728"}
	var lat []series
	for _, mode := range curveModes {
		var p50, p99 []float64
		for _, p := range points {
			p50 = append(p50, ms(p.Search[mode].res.lat.quantile(0.5)))
			p99 = append(p99, ms(p.Search[mode].res.lat.quantile(0.99)))
		}
		lat = append(lat, series{mode + " p99", colors[mode], false, p99}, series{mode + " p50", colors[mode], true, p50})
	}
	var ingest, bpc []float64
	for _, p := range points {
		ingest = append(ingest, p.Ingest.rate)
		bpc = append(bpc, float64(p.Sizes.Total)/float64(p.Chunks))
	}
	const w, h = 960, 320
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	panel(&b, 0, "search latency (ms)", xs, lat)
	panel(&b, 320, "ingest (chunks/s)", xs, []series{{"pipeline", "#9467bd", false, ingest}})
	panel(&b, 640, "Postgres bytes per chunk", xs, []series{{"table + indexes", "#8c564b", false, bpc}})
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// panel draws one chart at x offset left: axes from zero, the corpus size
// on a log scale, a legend.
func panel(b *bytes.Buffer, left float64, title string, xs []float64, ss []series) {
	const top, plotW, plotH = 30, 240, 200
	x0, y0 := left+60, float64(top+plotH)
	ymax := 0.0
	for _, s := range ss {
		for _, y := range s.ys {
			ymax = max(ymax, y)
		}
	}
	ymax = niceCeil(ymax)
	lx0, lx1 := math.Log10(xs[0]), math.Log10(xs[len(xs)-1])
	if lx1 == lx0 {
		lx0, lx1 = lx0-0.5, lx1+0.5
	}
	px := func(x float64) float64 { return x0 + (math.Log10(x)-lx0)/(lx1-lx0)*plotW }
	py := func(y float64) float64 { return y0 - y/ymax*plotH }
	fmt.Fprintf(b, `<text x="%g" y="16" font-size="13" font-weight="bold">%s</text>`+"\n", left+20, title)
	fmt.Fprintf(b, `<path d="M%g %d V%g H%g" stroke="#444" fill="none"/>`+"\n", x0, top, y0, x0+plotW)
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0, x0+plotW, py(y), py(y), x0-4, py(y)+4, short(y))
	}
	for _, x := range xs {
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", px(x), y0+14, short(x))
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">chunks</text>`+"\n", x0+plotW/2, y0+28)
	for i, s := range ss {
		var d strings.Builder
		for j, y := range s.ys {
			fmt.Fprintf(&d, "%s%.1f %.1f ", map[bool]string{true: "M", false: "L"}[j == 0], px(xs[j]), py(y))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", px(xs[j]), py(y), s.color)
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(b, `<path d="%s" stroke="%s" stroke-width="1.8" fill="none"%s/>`+"\n", strings.TrimSpace(d.String()), s.color, dash)
		// The legend goes under the axis, two entries a row.
		lx, ly := x0-40+float64(i%2)*130, y0+46+float64(14*(i/2))
		fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="1.8"%s/><text x="%g" y="%g">%s</text>`+"\n",
			lx, lx+16, ly, ly, s.color, dash, lx+20, ly+4, s.name)
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// short formats an axis label: 1500 → 1.5k, 1000000 → 1M.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case v >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
}
