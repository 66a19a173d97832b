// Command bench measures protostar end to end on the local stack (see
// docs/benchmarks.md): ingest throughput against a naive and a COPY
// yardstick, the worker's memory while streaming a huge object, search
// latency and recall, queue pick-up latency, cached summaries and
// answers, and ingestion against a simulated remote embedding provider. It runs the real binary as separate `serve` and `worker`
// processes against a fresh database, a private Redis and a fresh bucket,
// removes all of them at the end (also on failure or Ctrl-C), prints a
// table and writes bench/results.json.
//
// Usage (from the repository root, with the stack's environment):
//
//	BENCH_SCALE=small|default|large go run ./bench [-out bench/results.json] [-only ingest,provider,memory,search,queue,cache]
//	BENCH_SCALE=curve go run ./bench [-curve-points 10k,100k,1M] [-docs docs/benchmarks.md]
//
// The curve scale measures search, recall, ingest and storage at several
// corpus sizes instead, and draws them into docs/benchmarks.md.
//
// -only dense runs the optional comparison of the offline embedder's
// sparse and dense vectors for HNSW search (docs/benchmarks.md).
//
// Every figure is a ratio against a baseline measured in the same run, so
// that a busy machine moves both. A figure that misses its target is
// marked MISS; only errors make the command fail.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/protostar/protostar/internal/hashembed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var figureNames = []string{"queue", "ingest", "cache", "provider", "search", "tracing", "termstats", "embeddings", "memory"}

// optionalFigures run only when -only names them: measurements for a
// decision, not for every run.
var optionalFigures = []string{"dense"}

// bench is one run: the harness, the scale, and the main environment that
// the ingest, cache and search figures share.
type bench struct {
	h      *harness
	s      scale
	sim    simConfig // the simulated embedding provider of the provider figure
	logger *slog.Logger

	main   *database
	serve  *proc
	worker *proc
	prof   *profiler       // nil unless -profile
	search *searchWorkload // the loaded search corpus, once the search figure (or tracing) loaded it

	curveHalfvec bool // compare halfvec storage at the growth curve's largest point
}

// options are the command line's.
type options struct {
	scale, out, only, logs, profile string
	verbose                         bool
	sim                             simConfig
	curvePoints, docs               string
	points                          []int // curvePoints parsed
	curveHalfvec                    bool
}

// parseFlags parses and checks the command line before anything starts.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scale, "scale", cmp.Or(os.Getenv("BENCH_SCALE"), "default"), "small, default, large or curve (BENCH_SCALE)")
	fs.StringVar(&o.out, "out", "bench/results.json", "where to write the results")
	fs.StringVar(&o.only, "only", strings.Join(figureNames, ","), "figures to run, comma-separated")
	fs.BoolVar(&o.verbose, "v", false, "log progress in detail")
	fs.StringVar(&o.logs, "logs", "", "keep the protostar processes' logs in this directory")
	fs.StringVar(&o.profile, "profile", "", "write CPU profiles of the ingest pipeline's worker and API to this directory")
	o.sim = simConfig{Dims: embedDims, ModelName: simModel}
	fs.DurationVar(&o.sim.Latency, "sim-latency", 40*time.Millisecond, "simulated provider: fixed cost of a request")
	fs.DurationVar(&o.sim.PerToken, "sim-token-time", 10*time.Microsecond, "simulated provider: cost per input token")
	fs.IntVar(&o.sim.RPM, "sim-rpm", 1500, "simulated provider: requests per minute")
	fs.IntVar(&o.sim.TPM, "sim-tpm", 6_000_000, "simulated provider: tokens per minute")
	fs.StringVar(&o.curvePoints, "curve-points", "10k,100k,1M", "BENCH_SCALE=curve: corpus sizes in chunks")
	fs.BoolVar(&o.curveHalfvec, "curve-halfvec", true, "BENCH_SCALE=curve: compare halfvec storage at the largest point")
	fs.StringVar(&o.docs, "docs", "docs/benchmarks.md", "BENCH_SCALE=curve: the document whose curve section is rewritten")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.sim.RPM < 1 || o.sim.TPM < 1 || o.sim.Latency < 0 || o.sim.PerToken < 0 {
		return o, fmt.Errorf("-sim-rpm and -sim-tpm must be positive, -sim-latency and -sim-token-time not negative")
	}
	var err error
	o.points, err = parsePoints(o.curvePoints)
	return o, err
}

// figureSet parses -only.
func figureSet(only string) (map[string]bool, error) {
	want := map[string]bool{}
	for f := range strings.SplitSeq(only, ",") {
		if f = strings.TrimSpace(f); f != "" {
			if !slices.Contains(figureNames, f) && !slices.Contains(optionalFigures, f) {
				return nil, fmt.Errorf("-only: unknown figure %q (have %s)", f, strings.Join(append(figureNames, optionalFigures...), ", "))
			}
			want[f] = true
		}
	}
	return want, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	sc, err := scaleFor(o.scale)
	if err != nil {
		return err
	}
	want, err := figureSet(o.only)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	began := time.Now()
	what := o.only
	if sc.Name == "curve" {
		what = "growth curve at " + o.curvePoints
	}
	logger.Info("bench starting", "scale", sc.Name, "figures", what, "cpus", runtime.NumCPU())
	h, err := newHarness(ctx, logger, o.logs)
	if err != nil {
		return err
	}
	defer h.Close()
	b := &bench{h: h, s: sc, sim: o.sim, logger: logger, curveHalfvec: o.curveHalfvec}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		b.prof = &profiler{dir: o.profile}
		defer b.prof.wait()
	}

	var results []Result
	if sc.Name == "curve" {
		results, err = b.curveRun(ctx, o.points, o.docs)
	} else {
		results, err = b.figures(ctx, want)
	}
	for i := range results {
		results[i].Params["scale"] = sc.Name
		results[i].Params["machine"] = machine()
	}
	if len(results) > 0 {
		printTable(stdout, sc.Name, results)
		if werr := writeResults(o.out, results); werr != nil {
			err = errors.Join(err, werr)
		} else {
			fmt.Fprintf(stdout, "\nwrote %s (%s, %s)\n", o.out, sc.Name, time.Since(began).Round(time.Second))
		}
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return err
}

// figures runs the chosen figures in an order that lets them share work:
// the ingested corpus serves the cache figure, then the same database is
// emptied for the yardsticks and the search corpus. The pipeline is
// measured twice, before and after the yardsticks, and the yardsticks
// several times, each keeping its best run, so that a burst of someone
// else's load on the machine cannot decide a ratio alone.
func (b *bench) figures(ctx context.Context, want map[string]bool) ([]Result, error) {
	st := &steps{logger: b.logger}
	if want["queue"] {
		if err := st.run(ctx, "queue", b.queueFigure); err != nil {
			return st.results, err
		}
	}
	if want["ingest"] || want["cache"] || want["provider"] || want["search"] || want["tracing"] || want["termstats"] || want["embeddings"] {
		if err := b.startMain(ctx); err != nil {
			return st.results, err
		}
	}
	if want["ingest"] || want["cache"] {
		if err := b.ingestAndCache(ctx, st, want); err != nil {
			return st.results, err
		}
	}
	if b.worker != nil {
		b.worker.Stop()
	}
	if want["provider"] {
		if err := st.run(ctx, "provider", b.providerFigure); err != nil {
			return st.results, err
		}
	}
	if want["search"] {
		if err := st.run(ctx, "search", b.searchFigure); err != nil {
			return st.results, err
		}
	}
	if want["dense"] {
		if err := st.run(ctx, "dense", b.denseFigure); err != nil {
			return st.results, err
		}
	}
	if want["tracing"] {
		if err := st.run(ctx, "tracing", b.tracingFigure); err != nil {
			return st.results, err
		}
	}
	if want["termstats"] {
		if err := st.run(ctx, "termstats", b.termStatsFigure); err != nil {
			return st.results, err
		}
	}
	if want["embeddings"] {
		if err := st.run(ctx, "embeddings", b.embeddingsFigure); err != nil {
			return st.results, err
		}
	}
	if b.serve != nil {
		b.serve.Stop()
	}
	if want["memory"] {
		if err := st.run(ctx, "memory", b.memoryFigure); err != nil {
			return st.results, err
		}
	}
	return st.results, nil
}

// steps runs the figures' steps one after the other, logging each, and
// collects their results.
type steps struct {
	logger  *slog.Logger
	results []Result
}

func (st *steps) run(ctx context.Context, name string, fn func(context.Context) ([]Result, error)) error {
	start := time.Now()
	st.logger.Info("step starting", "step", name)
	rs, err := fn(ctx)
	st.results = append(st.results, rs...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	st.logger.Info("step done", "step", name, "seconds", time.Since(start).Round(100*time.Millisecond).Seconds())
	return nil
}

// ingestAndCache runs the ingest pipeline on the corpus, the cache figure
// on what it indexed, and then, for the ingest figure, the yardsticks and a
// second pipeline run on a copy of the corpus.
func (b *bench) ingestAndCache(ctx context.Context, st *steps, want map[string]bool) error {
	var (
		corpus ingestCorpus
		runs   []pipelineRun
	)
	err := st.run(ctx, "ingest pipeline (1 of 2)", func(ctx context.Context) ([]Result, error) {
		var err error
		// The second pipeline run, after the yardsticks, needs a copy
		// under keys of its own.
		prefixes := []string{"corpus/"}
		if want["ingest"] {
			prefixes = append(prefixes, "corpus-b/")
		}
		if corpus, err = b.loadIngestCorpus(ctx, prefixes...); err != nil {
			return nil, err
		}
		run, err := b.ingestPipeline(ctx, b.serve, b.worker, corpus, "corpus/")
		runs = append(runs, run)
		return nil, err
	})
	if err != nil {
		return err
	}
	if want["cache"] {
		if err := st.run(ctx, "cache", b.cacheFigure); err != nil {
			return err
		}
	}
	if !want["ingest"] {
		return nil
	}
	b.worker.Stop()
	var naive, limit yardstick
	err = st.run(ctx, "ingest yardsticks", func(ctx context.Context) ([]Result, error) {
		emb, err := hashembed.New(embedDims)
		if err != nil {
			return nil, err
		}
		if naive, err = b.ingestNaive(ctx, corpus, "corpus/", "naive", emb); err != nil {
			return nil, err
		}
		limit, err = b.ingestLimit(ctx, corpus)
		return nil, err
	})
	if err != nil {
		return err
	}
	return st.run(ctx, "ingest pipeline (2 of 2)", func(ctx context.Context) ([]Result, error) {
		var err error
		if b.worker, err = b.h.start(ctx, "worker", b.main, 0); err != nil {
			return nil, err
		}
		defer b.worker.Stop()
		run, err := b.ingestPipeline(ctx, b.serve, b.worker, corpus, "corpus-b/")
		runs = append(runs, run)
		return ingestFigures(runs, naive, limit), err
	})
}

// startMain creates the main database and starts `protostar serve` and
// `protostar worker` on it with default settings.
func (b *bench) startMain(ctx context.Context) error {
	var err error
	if b.main, err = b.h.newDatabase(ctx, embedDims); err != nil {
		return err
	}
	if b.serve, err = b.h.start(ctx, "serve", b.main, 0); err != nil {
		return err
	}
	b.worker, err = b.h.start(ctx, "worker", b.main, 0)
	return err
}

// loadIngestCorpus generates the ingest corpus and uploads a copy of it
// under each prefix, one per pipeline run.
func (b *bench) loadIngestCorpus(ctx context.Context, prefixes ...string) (ingestCorpus, error) {
	c := generateIngestCorpus(b.s.IngestDocs)
	b.logger.Info("uploading the ingest corpus", "documents", len(c.keys), "mib", c.bytes/mib, "copies", len(prefixes))
	for _, prefix := range prefixes {
		keys := make([]string, len(c.keys))
		for i, k := range c.keys {
			keys[i] = prefix + k
		}
		if err := b.h.upload(ctx, keys, c.docs); err != nil {
			return c, err
		}
	}
	return c, nil
}

// machine describes the machine for the results.
func machine() map[string]any {
	m := map[string]any{"cpus": runtime.NumCPU(), "goos": runtime.GOOS, "goarch": runtime.GOARCH, "go": runtime.Version()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if name, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m["cpu"] = strings.TrimSpace(val)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if name, val, ok := strings.Cut(line, ":"); ok && name == "MemTotal" {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(val), "%d", &kb)
				m["memory_gib"] = round(float64(kb) / (1 << 20))
			}
		}
	}
	return m
}

// curveRun measures the growth curve at points and rewrites the curve
// section of docs.
func (b *bench) curveRun(ctx context.Context, points []int, docs string) ([]Result, error) {
	measured, err := b.curve(ctx, points)
	if err != nil {
		return nil, err
	}
	if err := writeCurveDocs(docs, measured); err != nil {
		return nil, err
	}
	b.logger.Info("curve written", "doc", docs)
	return curveResults(measured), nil
}
