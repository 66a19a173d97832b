package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/client"
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
			"over the same index terms. Needs a platform key (it creates and deletes the tenant).")
	data := cmd.fs.String("data", "", "the SQuAD-format JSON file (required)")
	modes := cmd.fs.String("modes", "keyword,hybrid,vector", "modes to measure, comma-separated")
	conc := cmd.fs.Int("concurrency", 4, "searches in flight")
	maxQ := cmd.fs.Int("questions", 0, "ask at most this many questions, spread over the file (0: all)")
	keep := cmd.fs.Bool("keep", false, "keep the scratch tenant and its documents")
	settle := cmd.fs.Duration("settle", 7*time.Second,
		"wait this long after ingest for the keyword statistics to be folded (the server's PROTOSTAR_TERM_STATS_INTERVAL and a bit)")
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
	}
	set, err := readSQuAD(*data, *maxQ)
	if err != nil {
		return err
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	run := &evalRun{set: set, stderr: stderr, conc: *conc, settle: *settle}
	rows, err := run.measure(ctx, c, strings.Split(*modes, ","), *keep)
	if err != nil {
		return err
	}
	if cmd.json {
		return writeJSON(stdout, map[string]any{"data": *data, "paragraphs": len(set.paragraphs),
			"questions": len(set.questions), "results": rows})
	}
	printEval(stdout, *data, set, rows)
	return nil
}

// squadSet is a SQuAD file's paragraphs and questions.
type squadSet struct {
	paragraphs []string
	questions  []squadQuestion
}

type squadQuestion struct {
	text      string
	paragraph int
}

// readSQuAD reads the paragraphs and questions of a SQuAD 1.1-format file,
// keeping at most maxQ questions (0: all) evenly spread over it.
func readSQuAD(path string, maxQ int) (squadSet, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return squadSet{}, err
	}
	var f struct {
		Data []struct {
			Paragraphs []struct {
				Context string `json:"context"`
				QAs     []struct {
					Question string `json:"question"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return squadSet{}, fmt.Errorf("read %s: not SQuAD JSON: %w", path, err)
	}
	var s squadSet
	for _, article := range f.Data {
		for _, p := range article.Paragraphs {
			if strings.TrimSpace(p.Context) == "" {
				continue
			}
			for _, qa := range p.QAs {
				if strings.TrimSpace(qa.Question) != "" {
					s.questions = append(s.questions, squadQuestion{text: qa.Question, paragraph: len(s.paragraphs)})
				}
			}
			s.paragraphs = append(s.paragraphs, p.Context)
		}
	}
	if len(s.questions) == 0 {
		return s, fmt.Errorf("read %s: no questions", path)
	}
	if maxQ > 0 && maxQ < len(s.questions) {
		picked := make([]squadQuestion, maxQ)
		for i := range picked {
			picked[i] = s.questions[i*len(s.questions)/maxQ]
		}
		s.questions = picked
	}
	return s, nil
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
	set    squadSet
	stderr io.Writer
	conc   int
	settle time.Duration
	docs   []string // document id per paragraph
}

// measure ingests the set into a scratch tenant, runs the reference and
// every mode, and removes the tenant unless keep.
func (e *evalRun) measure(ctx context.Context, c *client.Client, modes []string, keep bool) ([]evalRow, error) {
	rows := []evalRow{e.reference()}
	tenant := "eval-" + randomHex(6)
	if err := c.CreateTenant(ctx, tenant, "protostar eval retrieval"); err != nil {
		return nil, fmt.Errorf("create the scratch tenant (a platform key is needed): %w", err)
	}
	fmt.Fprintf(e.stderr, "scratch tenant %s\n", tenant)
	if !keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := c.DeleteTenant(dctx, tenant); err != nil {
				fmt.Fprintf(e.stderr, "could not delete the scratch tenant %s: %v\n", tenant, err)
			}
		}()
	}
	tc := c.ForTenant(tenant)
	if err := e.ingest(ctx, tc); err != nil {
		return nil, err
	}
	for _, mode := range modes {
		mode = strings.TrimSpace(mode)
		if mode == "" {
			continue
		}
		row, err := e.ask(ctx, tc, mode)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// reference ranks every question with the in-Go BM25 over the paragraphs.
func (e *evalRun) reference() evalRow {
	ref := search.NewReference(protostar.BM25{K1: protostar.DefaultBM25K1, B: protostar.DefaultBM25B})
	for i, p := range e.set.paragraphs {
		ref.Add(fmt.Sprint(i), p)
	}
	start := time.Now()
	ranks := make([]int, len(e.set.questions))
	for i, q := range e.set.questions {
		want := fmt.Sprint(q.paragraph)
		ranks[i] = 1 + slices.IndexFunc(ref.Search(q.text, evalK), func(h search.RefHit) bool { return h.ID == want })
	}
	return score("reference BM25 (Go)", ranks, time.Since(start))
}

// ingest uploads every paragraph as a document and waits until all are
// indexed, then e.settle more for the keyword statistics to be folded.
func (e *evalRun) ingest(ctx context.Context, c *client.Client) error {
	dir, err := os.MkdirTemp("", "protostar-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	results := make([]ingested, len(e.set.paragraphs))
	for i, p := range e.set.paragraphs {
		key := fmt.Sprintf("p%05d.md", i)
		results[i] = ingested{Key: key, Path: filepath.Join(dir, key)}
		if err := os.WriteFile(results[i].Path, []byte(p+"\n"), 0o600); err != nil {
			return err
		}
	}
	start := time.Now()
	fmt.Fprintf(e.stderr, "ingesting %d paragraphs\n", len(results))
	// A shared object store under load refuses an upload now and then;
	// those paragraphs are uploaded again, twice at most.
	pending := results
	for attempt := 0; attempt < 3 && len(pending) > 0; attempt++ {
		for range ingestAll(ctx, c, pending, true) {
		}
		var failed []ingested
		for _, r := range pending {
			if r.Status != protostar.DocumentReady {
				failed = append(failed, ingested{Key: r.Key, Path: r.Path})
			}
		}
		for _, r := range pending {
			if i := keyIndex(r.Key); r.Status == protostar.DocumentReady || attempt == 2 {
				results[i] = r
			}
		}
		pending = failed
	}
	e.docs = make([]string, len(results))
	for i, r := range results {
		if r.Status != protostar.DocumentReady {
			return fmt.Errorf("ingest %s: %s %s", r.Key, r.Status, r.Error)
		}
		e.docs[i] = r.DocumentID
	}
	fmt.Fprintf(e.stderr, "ingested in %s\n", time.Since(start).Round(100*time.Millisecond))
	select {
	case <-time.After(e.settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// ask asks every question in mode, e.conc at a time.
func (e *evalRun) ask(ctx context.Context, c *client.Client, mode string) (evalRow, error) {
	ranks := make([]int, len(e.set.questions))
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
				q := e.set.questions[i]
				hits, err := c.Search(ctx, client.SearchRequest{Query: q.text, TopK: evalK, Mode: mode})
				if err != nil {
					mu.Lock()
					failures++
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				want := e.docs[q.paragraph]
				ranks[i] = 1 + slices.IndexFunc(hits, func(h protostar.SearchHit) bool { return h.DocumentID == want })
			}
		})
	}
	for i := range e.set.questions {
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

// keyIndex is the paragraph number in an eval document's key (p00042.md).
func keyIndex(key string) int {
	var i int
	_, _ = fmt.Sscanf(key, "p%05d.md", &i)
	return i
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func printEval(w io.Writer, data string, set squadSet, rows []evalRow) {
	fmt.Fprintf(w, "%s: %d paragraphs, %d questions\n\n", filepath.Base(data), len(set.paragraphs), len(set.questions))
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
