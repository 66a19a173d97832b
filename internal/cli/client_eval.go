package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
	"github.com/protostar/protostar/internal/evalset"
	"github.com/protostar/protostar/internal/search"
)

// evalK is the cut-off of the retrieval metrics (R@1, R@5, R@10, MRR@10).
const evalK = 10

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := newClientCmd("eval", "retrieval --data FILE.json [flags]",
		"Measure retrieval on a SQuAD-format file (SQuAD 1.1, KorQuAD 1.0): every paragraph becomes a\n"+
			"document of a scratch tenant, every question is asked in every mode, and a question counts\n"+
			"as found at rank r when its own paragraph's first chunk in the results is the r-th hit.\n"+
			"Prints R@1, R@5, R@10, MRR@10 and queries/s per mode, beside a BM25 reference scored in Go\n"+
			"over the same index terms. With --distractors or --distractor-factor it then adds passages\n"+
			"that answer no question to the tenant (and to the reference), measures again, and prints\n"+
			"each system's drop. Needs a platform key (it creates and deletes the tenant).")
	data := cmd.fs.String("data", "", "the SQuAD-format JSON file (required)")
	modes := cmd.fs.String("modes", "keyword,hybrid,vector", "modes to measure, comma-separated")
	conc := cmd.fs.Int("concurrency", 4, "searches in flight")
	maxQ := cmd.fs.Int("questions", 0, "ask at most this many questions, spread over the file (0: all)")
	keep := cmd.fs.Bool("keep", false, "keep the scratch tenant and its documents")
	settle := cmd.fs.Duration("settle", 7*time.Second,
		"wait this long after ingest for the keyword statistics to be folded (the server's PROTOSTAR_TERM_STATS_INTERVAL and a bit)")
	var d distractorOpts
	cmd.fs.Func("distractors", "unrelated passages from `FILE`, repeatable or comma-separated: every paragraph of a SQuAD\n"+
		"JSON file, a Markdown or text file as one passage, a directory's .md/.txt files", func(v string) error {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				d.files = append(d.files, f)
			}
		}
		return nil
	})
	cmd.fs.Float64Var(&d.factor, "distractor-factor", 0,
		"add this many times as many synthetic passages as the data has paragraphs (docs/benchmarks.md)")
	cmd.fs.Uint64Var(&d.seed, "distractor-seed", 1, "seed of the synthetic passages")
	pos, err := cmd.parse(args, stdout)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1 || pos[0] != "retrieval":
		return cmd.usageErr("want `eval retrieval`, the only evaluation there is")
	case *data == "":
		return cmd.usageErr("--data FILE.json is required")
	case *conc < 1 || *conc > 64:
		return cmd.usageErr("--concurrency must be between 1 and 64")
	case !(d.factor >= 0 && d.factor <= maxDistractorFactor):
		return cmd.usageErr("--distractor-factor must be between 0 and %d (10: ten times as many passages as the data)", maxDistractorFactor)
	}
	set, err := evalset.ReadSQuAD(*data, *maxQ)
	if err != nil {
		return err
	}
	if err := d.load(set, stderr); err != nil {
		return err
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	run := &evalRun{set: set, stderr: stderr, conc: *conc, settle: *settle}
	res, err := run.measure(ctx, c, strings.Split(*modes, ","), d.passages, *keep)
	if err != nil {
		return err
	}
	if cmd.json {
		return writeJSON(stdout, evalJSON(*data, set, d, res))
	}
	printEval(stdout, *data, set, d, res)
	return nil
}

// maxDistractorFactor bounds --distractor-factor: 100 times a thousand
// paragraphs is already an ingest of hours.
const maxDistractorFactor = 100

// distractorOpts are the passages added beside the data: read from files
// and generated.
type distractorOpts struct {
	files     []string
	factor    float64
	seed      uint64
	synthetic int      // how many of the passages were generated
	passages  []string // files' passages first, then the synthetic ones
}

// load reads the files' passages and generates the synthetic ones,
// leaving out any passage that is a paragraph of the data (it would be a
// second right answer, not a distractor).
func (d *distractorOpts) load(set evalset.Set, stderr io.Writer) error {
	own := make(map[string]bool, len(set.Paragraphs))
	for _, p := range set.Paragraphs {
		own[strings.TrimSpace(p)] = true
	}
	skipped := 0
	add := func(ps []string) {
		for _, p := range ps {
			if own[strings.TrimSpace(p)] {
				skipped++
				continue
			}
			d.passages = append(d.passages, p)
		}
	}
	for _, f := range d.files {
		ps, err := evalset.ReadPassages(f)
		if err != nil {
			return err
		}
		add(ps)
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "left out %d distractor passages that are paragraphs of the data\n", skipped)
	}
	n := int(math.Round(d.factor * float64(len(set.Paragraphs))))
	before := len(d.passages)
	add(evalset.Synthetic(set, n, d.seed))
	d.synthetic = len(d.passages) - before
	return nil
}

// describe says what the distractors are, for the output.
func (d distractorOpts) describe(paragraphs int) string {
	var parts []string
	if fromFiles := len(d.passages) - d.synthetic; fromFiles > 0 {
		parts = append(parts, fmt.Sprintf("%d from %s", fromFiles, strings.Join(d.files, ", ")))
	}
	if d.synthetic > 0 {
		parts = append(parts, fmt.Sprintf("%d synthetic (seed %d)", d.synthetic, d.seed))
	}
	return fmt.Sprintf("%d distractor passages, %.1f× the %d paragraphs: %s",
		len(d.passages), float64(len(d.passages))/float64(max(paragraphs, 1)), paragraphs, strings.Join(parts, ", "))
}

// evalRow is one system's figures.
type evalRow struct {
	System   string  `json:"system"`
	R1       float64 `json:"r_at_1"`
	R5       float64 `json:"r_at_5"`
	R10      float64 `json:"r_at_10"`
	MRR10    float64 `json:"mrr_at_10"`
	QPS      float64 `json:"queries_per_second"`
	Failures int     `json:"failures,omitempty"` // questions whose search failed
}

// score computes the metrics from each question's rank (0: not in the
// first evalK).
func score(system string, ranks []int, elapsed time.Duration) evalRow {
	r := evalRow{System: system, QPS: float64(len(ranks)) / max(elapsed.Seconds(), 1e-9)}
	for _, rank := range ranks {
		if rank < 1 || rank > evalK {
			continue
		}
		r.MRR10 += 1 / float64(rank)
		for _, c := range []struct {
			k int
			v *float64
		}{{1, &r.R1}, {5, &r.R5}, {10, &r.R10}} {
			if rank <= c.k {
				*c.v++
			}
		}
	}
	n := float64(max(len(ranks), 1))
	r.R1, r.R5, r.R10, r.MRR10 = r.R1/n, r.R5/n, r.R10/n, r.MRR10/n
	return r
}

// evalRun is one evaluation: the set, where progress goes, and the
// scratch tenant's document of each paragraph.
type evalRun struct {
	set    evalset.Set
	stderr io.Writer
	conc   int
	settle time.Duration
	docs   []string // document id per paragraph
}

// evalResult is the figures of each system: on the data alone, and after
// the distractors were added (none without distractors).
type evalResult struct {
	base, with []evalRow
}

// measure ingests the set into a scratch tenant, runs the reference and
// every mode, then adds the distractors, if any, and runs them all again.
// The tenant is removed at the end unless keep.
func (e *evalRun) measure(ctx context.Context, c *client.Client, modes []string, distractors []string, keep bool) (evalResult, error) {
	var res evalResult
	tenant := "eval-" + randomHex(6)
	if err := c.CreateTenant(ctx, tenant, "protostar eval retrieval"); err != nil {
		return res, fmt.Errorf("create the scratch tenant (a platform key is needed): %w", err)
	}
	fmt.Fprintf(e.stderr, "scratch tenant %s\n", tenant)
	if !keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if err := c.DeleteTenant(dctx, tenant); err != nil {
				fmt.Fprintf(e.stderr, "could not delete the scratch tenant %s: %v\n", tenant, err)
			}
		}()
	}
	tc := c.ForTenant(tenant)
	docs, err := e.ingest(ctx, tc, "paragraphs", "p", e.set.Paragraphs)
	if err != nil {
		return res, err
	}
	e.docs = docs
	if res.base, err = e.phase(ctx, tc, modes, nil); err != nil || len(distractors) == 0 {
		return res, err
	}
	if _, err := e.ingest(ctx, tc, "distractor passages", "d", distractors); err != nil {
		return res, err
	}
	res.with, err = e.phase(ctx, tc, modes, distractors)
	return res, err
}

// phase runs the reference over the paragraphs and distractors, then
// every mode against the tenant, which holds the same.
func (e *evalRun) phase(ctx context.Context, c *client.Client, modes []string, distractors []string) ([]evalRow, error) {
	rows := []evalRow{e.reference(distractors)}
	for _, mode := range modes {
		mode = strings.TrimSpace(mode)
		if mode == "" {
			continue
		}
		row, err := e.ask(ctx, c, mode)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// reference ranks every question with the in-Go BM25 over the paragraphs
// and the distractors.
func (e *evalRun) reference(distractors []string) evalRow {
	ref := search.NewReference(protostar.BM25{K1: protostar.DefaultBM25K1, B: protostar.DefaultBM25B})
	for i, p := range e.set.Paragraphs {
		ref.Add(strconv.Itoa(i), p)
	}
	for i, p := range distractors {
		ref.Add("d"+strconv.Itoa(i), p)
	}
	start := time.Now()
	ranks := make([]int, len(e.set.Questions))
	for i, q := range e.set.Questions {
		want := strconv.Itoa(q.Paragraph)
		ranks[i] = 1 + slices.IndexFunc(ref.Search(q.Text, evalK), func(h search.RefHit) bool { return h.ID == want })
	}
	return score("reference BM25 (Go)", ranks, time.Since(start))
}

// ingest uploads every text as a document (keys prefix00000.md on) and
// waits until all are indexed, then e.settle more for the keyword
// statistics to be folded. It returns the document id of each text.
func (e *evalRun) ingest(ctx context.Context, c *client.Client, what, prefix string, texts []string) ([]string, error) {
	dir, err := os.MkdirTemp("", "protostar-eval-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	results := make([]ingested, len(texts))
	index := make(map[string]int, len(texts))
	for i, p := range texts {
		key := fmt.Sprintf("%s%05d.md", prefix, i)
		results[i], index[key] = ingested{Key: key, Path: filepath.Join(dir, key)}, i
		if err := os.WriteFile(results[i].Path, []byte(p+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	fmt.Fprintf(e.stderr, "ingesting %d %s\n", len(results), what)
	// A shared object store under load refuses an upload now and then;
	// those texts are uploaded again, twice at most.
	pending := results
	for attempt := 0; attempt < 3 && len(pending) > 0; attempt++ {
		for range ingestAll(ctx, c, pending, true) {
		}
		var failed []ingested
		for _, r := range pending {
			if r.Status == protostar.DocumentReady || attempt == 2 {
				results[index[r.Key]] = r
			} else {
				failed = append(failed, ingested{Key: r.Key, Path: r.Path})
			}
		}
		pending = failed
	}
	docs := make([]string, len(results))
	for i, r := range results {
		if r.Status != protostar.DocumentReady {
			return nil, fmt.Errorf("ingest %s: %s %s", r.Key, r.Status, r.Error)
		}
		docs[i] = r.DocumentID
	}
	fmt.Fprintf(e.stderr, "ingested in %s\n", time.Since(start).Round(100*time.Millisecond))
	select {
	case <-time.After(e.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return docs, nil
}

// ask asks every question in mode, e.conc at a time.
func (e *evalRun) ask(ctx context.Context, c *client.Client, mode string) (evalRow, error) {
	ranks := make([]int, len(e.set.Questions))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures int
		firstErr error
	)
	next := make(chan int)
	start := time.Now()
	for range e.conc {
		wg.Go(func() {
			for i := range next {
				q := e.set.Questions[i]
				hits, err := c.Search(ctx, client.SearchRequest{Query: q.Text, TopK: evalK, Mode: mode})
				if err != nil {
					mu.Lock()
					failures++
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				want := e.docs[q.Paragraph]
				ranks[i] = 1 + slices.IndexFunc(hits, func(h protostar.SearchHit) bool { return h.DocumentID == want })
			}
		})
	}
	for i := range e.set.Questions {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return evalRow{}, err
	}
	if failures == len(ranks) {
		return evalRow{}, fmt.Errorf("every %s search failed: %w", mode, firstErr)
	}
	row := score("protostar "+mode, ranks, time.Since(start))
	row.Failures = failures
	fmt.Fprintf(e.stderr, "%s: %d questions in %s\n", mode, len(ranks), time.Since(start).Round(100*time.Millisecond))
	return row, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// evalJSON is the --json output.
func evalJSON(data string, set evalset.Set, d distractorOpts, res evalResult) map[string]any {
	out := map[string]any{"data": data, "paragraphs": len(set.Paragraphs),
		"questions": len(set.Questions), "results": res.base}
	if len(res.with) > 0 {
		drops := map[string]float64{}
		for i, r := range res.with {
			drops[r.System] = res.base[i].R1 - r.R1
		}
		out["distractors"] = map[string]any{"passages": len(d.passages), "synthetic": d.synthetic,
			"files": d.files, "factor": d.factor, "seed": d.seed}
		out["results_with_distractors"] = res.with
		out["r_at_1_drop"] = drops
	}
	return out
}

func printEval(w io.Writer, data string, set evalset.Set, d distractorOpts, res evalResult) {
	fmt.Fprintf(w, "%s: %d paragraphs, %d questions\n", filepath.Base(data), len(set.Paragraphs), len(set.Questions))
	printRows(w, res.base)
	if len(res.with) == 0 {
		return
	}
	fmt.Fprintf(w, "\nwith %s\n", d.describe(len(set.Paragraphs)))
	printRows(w, res.with)
	fmt.Fprintln(w, "\nwhat the distractors cost:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "system\tR@1\twith\tdrop\tMRR@10\twith\tdrop\t")
	for i, r := range res.with {
		b := res.base[i]
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", r.System, b.R1, r.R1, b.R1-r.R1, b.MRR10, r.MRR10, b.MRR10-r.MRR10)
	}
	tw.Flush()
}

// printRows prints a table of figures and each mode's ratio to the
// reference, the first row.
func printRows(w io.Writer, rows []evalRow) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "system\tR@1\tR@5\tR@10\tMRR@10\tqueries/s\t")
	for _, r := range rows {
		fail := ""
		if r.Failures > 0 {
			fail = fmt.Sprintf("(%d failed)", r.Failures)
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%s\n", r.System, r.R1, r.R5, r.R10, r.MRR10, r.QPS, fail)
	}
	tw.Flush()
	if len(rows) > 1 {
		ref := rows[0]
		fmt.Fprintln(w)
		for _, r := range rows[1:] {
			fmt.Fprintf(w, "%s / reference: R@1 %.3f, MRR@10 %.3f\n", r.System, r.R1/max(ref.R1, 1e-9), r.MRR10/max(ref.MRR10, 1e-9))
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
