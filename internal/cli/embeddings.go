package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/config"
	"github.com/protostar/protostar/internal/embedspace"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/telemetry"
)

const embeddingsUsage = `usage: protostar embeddings
  list
  create --provider hash|openai --model M --dimensions N [--send-dimensions=false] [--index vector|halfvec]
  reindex SPACE --index vector|halfvec [--grace 30s]  switch the space's HNSW index type (built concurrently; searches go on)
  backfill [SPACE] [--tenant T]        queue backfill jobs (default: the newest building space)
  status [SPACE] [--tenant T]          coverage per tenant, backfill rate and ETA, tokens left
  compare --queries FILE --tenant T [--from SPACE] [--to SPACE] [--top-k 10]
  activate SPACE [--tenant T] [--force]
  rollback [--tenant T]
  retire SPACE`

// embeddings is `protostar embeddings …`: the embedding-space flow,
// directly on the database (PROTOSTAR_DATABASE_URL); the jobs it queues
// run in any protostar worker.
type embeddings struct {
	db     *postgres.DB
	cfg    config.Config
	logger *slog.Logger
	out    printer
	tenant string
	force  bool
	grace  time.Duration // reindex: how long the old index outlives the switch
	spec   protostar.SpaceSpec
	// compare
	queries  string
	from, to int64
	topK     int
}

func runEmbeddings(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("%s", embeddingsUsage)}
	}
	var e embeddings
	fs := flag.NewFlagSet("embeddings "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&e.spec.Provider, "provider", "", "hash or openai (create)")
	fs.StringVar(&e.spec.Model, "model", "", "the embedding model (create; hash: hash-v1, the default, or hash-v2-dense)")
	fs.IntVar(&e.spec.Dimensions, "dimensions", 0, "vector size (create)")
	fs.BoolVar(&e.spec.SendDimensions, "send-dimensions", true, "send `dimensions` to openai (create)")
	fs.StringVar(&e.spec.Index, "index", "", "HNSW index type, vector or halfvec (create: default PROTOSTAR_VECTOR_INDEX; reindex)")
	fs.StringVar(&e.tenant, "tenant", "", "one tenant instead of all")
	fs.BoolVar(&e.force, "force", false, "activate below 100% coverage")
	fs.DurationVar(&e.grace, "grace", 30*time.Second, "reindex: keep the old index this long after the switch, for searches that read the old type just before it")
	fs.StringVar(&e.queries, "queries", "", "file of queries, one a line (compare)")
	fs.Int64Var(&e.from, "from", 0, "space compared from (compare; default the tenant's active one)")
	fs.Int64Var(&e.to, "to", 0, "space compared to (compare; default the newest other live one)")
	fs.IntVar(&e.topK, "top-k", 10, "results per query (compare)")
	asJSON := fs.Bool("json", false, "print JSON")
	verb, rest := args[0], args[1:]
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return usageError{err}
		}
		if rest = fs.Args(); len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	var err error
	if e.cfg, err = config.Load(); err != nil {
		return err
	}
	e.logger = newLogger(e.cfg, stderr)
	if e.db, err = postgres.Open(e.logger, e.cfg.DatabaseURL, 4); err != nil {
		return err
	}
	defer e.db.Close()
	e.out = printer{w: stdout, json: *asJSON}
	return e.run(ctx, verb, pos)
}

func (e *embeddings) run(ctx context.Context, verb string, pos []string) error {
	id, err := e.spaceArg(ctx, verb, pos)
	if err != nil {
		return err
	}
	switch verb {
	case "list":
		ss, err := e.db.Spaces(ctx)
		return e.out.spaces(err, ss...)
	case "create":
		if e.spec.Provider == "hash" && e.spec.Model == "" {
			e.spec.Model = "hash-v1"
		}
		s, err := e.db.CreateSpace(ctx, e.spec.WithIndexDefault(e.cfg.VectorIndex))
		if err == nil && !e.out.json {
			fmt.Fprintf(e.out.w, "space %d created (building): new ingests write it from now on. Next: protostar embeddings backfill %d\n", s.ID, s.ID)
			return nil
		}
		return e.out.spaces(err, s)
	case "backfill":
		jobs, err := e.db.CreateBackfillJobs(ctx, id, e.tenant, e.cfg.JobMaxAttempts)
		if err != nil || e.out.json {
			return orJSON(err, e.out.w, jobs)
		}
		for _, j := range jobs {
			fmt.Fprintf(e.out.w, "tenant %s: job %s (%s)\n", j.TenantID, j.ID, j.Status)
		}
		fmt.Fprintf(e.out.w, "%d backfill jobs of space %d queued; a running protostar worker does them. Follow: protostar embeddings status %d\n", len(jobs), id, id)
		return nil
	case "status":
		return e.status(ctx, id)
	case "reindex":
		return e.reindex(ctx, id)
	case "compare":
		return e.compare(ctx)
	case "activate":
		s, err := e.db.ActivateSpace(ctx, id, e.tenant, e.force)
		return e.out.spaces(err, s)
	case "rollback":
		s, err := e.db.RollbackSpace(ctx, e.tenant)
		return e.out.spaces(err, s)
	case "retire":
		err := e.db.RetireSpace(ctx, id, 5000, func(n int64) {
			if !e.out.json {
				fmt.Fprintf(e.out.w, "\rspace %d: %d vectors deleted", id, n)
			}
		})
		if err == nil && !e.out.json {
			fmt.Fprintf(e.out.w, "\nspace %d retired: its index and vectors are gone\n", id)
		}
		return err
	}
	return usageError{fmt.Errorf("%s", embeddingsUsage)}
}

// reindex switches the space's HNSW index to --index.
func (e *embeddings) reindex(ctx context.Context, id int64) error {
	if e.spec.Index == "" {
		return usageError{fmt.Errorf("reindex needs --index vector or --index halfvec")}
	}
	s, err := e.db.ReindexSpace(ctx, id, e.spec.Index, e.grace, func(step string) {
		if !e.out.json {
			fmt.Fprintf(e.out.w, "space %d: %s\n", id, step)
		}
	})
	return e.out.spaces(err, s)
}

// spaceArg reads the SPACE argument of the verbs that take one; backfill
// and status default to the newest building space.
func (e *embeddings) spaceArg(ctx context.Context, verb string, pos []string) (int64, error) {
	switch verb {
	case "backfill", "status", "activate", "retire", "reindex":
	default:
		if len(pos) > 0 {
			return 0, usageError{fmt.Errorf("%s takes no argument %q", verb, pos[0])}
		}
		return 0, nil
	}
	if len(pos) == 1 {
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil {
			return 0, usageError{fmt.Errorf("SPACE must be a space id, got %q", pos[0])}
		}
		return id, nil
	}
	if len(pos) > 1 || verb == "activate" || verb == "retire" || verb == "reindex" {
		return 0, usageError{fmt.Errorf("%s needs exactly one SPACE (see protostar embeddings list)", verb)}
	}
	ss, err := e.db.Spaces(ctx)
	if err != nil {
		return 0, err
	}
	for _, s := range slices.Backward(ss) {
		if s.State == protostar.SpaceBuilding {
			return s.ID, nil
		}
	}
	return 0, usageError{fmt.Errorf("no building space: name one (protostar embeddings list)")}
}

// status prints the space's coverage per tenant with its backfill's rate
// and ETA, and the tokens a provider would still be asked to embed.
func (e *embeddings) status(ctx context.Context, id int64) error {
	s, err := e.db.Space(ctx, id)
	if err != nil {
		return err
	}
	cov, err := e.db.SpaceCoverage(ctx, id, e.tenant)
	if err != nil || e.out.json {
		return orJSON(err, e.out.w, []any{map[string]any{"space": s, "tenants": cov}})
	}
	fmt.Fprintf(e.out.w, "space %d  %s  %s\n", s.ID, s.State, s.Fingerprint)
	tw := tabwriter.NewWriter(e.out.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tEMBEDDED\tCOVERAGE\tTOKENS LEFT\tBACKFILL\tRATE\tETA")
	var all, done, tokens int64
	for _, c := range cov {
		all, done, tokens = all+c.Chunks, done+c.Embedded, tokens+c.MissingTokens
		job, rate, eta := "-", "-", "-"
		if j := c.Backfill; j != nil {
			job = j.Status
			if j.StartedAt != nil && j.Progress.Done > 0 {
				end := time.Now()
				if j.FinishedAt != nil {
					end = *j.FinishedAt
				}
				r := float64(j.Progress.Done) / max(end.Sub(*j.StartedAt).Seconds(), 0.001)
				rate = fmt.Sprintf("%.0f/s", r)
				if left := c.Chunks - c.Embedded; left > 0 && !j.Terminal() {
					eta = (time.Duration(float64(left)/r) * time.Second).Round(time.Second).String()
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%d\t%s\t%s\t%s\n", c.TenantID, c.Embedded, c.Chunks, pct(c.Embedded, c.Chunks), c.MissingTokens, job, rate, eta)
	}
	fmt.Fprintf(tw, "(all)\t%d/%d\t%s\t%d\t\t\t\n", done, all, pct(done, all), tokens)
	return tw.Flush()
}

func pct(n, of int64) string {
	if of == 0 {
		return "100%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func (p printer) spaces(err error, ss ...protostar.EmbeddingSpace) error {
	if err != nil || p.json {
		return orJSON(err, p.w, ss)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPROVIDER\tMODEL\tDIMENSIONS\tINDEX\tCREATED\tACTIVATED\tRETIRED")
	for _, s := range ss {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Provider, s.Model, s.Dimensions, s.IndexType(),
			s.CreatedAt.Format(time.RFC3339), when(s.ActivatedAt), when(s.RetiredAt))
	}
	return tw.Flush()
}

// readQueries reads one query a line, skipping blank lines and # comments.
func readQueries(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--queries: %w", err)}
	}
	defer f.Close()
	var qs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if q := strings.TrimSpace(sc.Text()); q != "" && !strings.HasPrefix(q, "#") {
			qs = append(qs, q)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(qs) == 0 {
		return nil, usageError{fmt.Errorf("--queries: %s holds no query", path)}
	}
	return qs, nil
}

// registry builds embedders for spaces as the daemon does.
func (e *embeddings) registry(ctx context.Context) (*embedspace.Registry, error) {
	tel, err := telemetry.New(ctx, "cli")
	if err != nil {
		return nil, err
	}
	factory, _, err := newProviders(e.cfg, e.logger, tel, nil, nil) // compare runs a few queries: per-process limits
	if err != nil {
		return nil, err
	}
	return embedspace.NewRegistry(e.logger, e.db, factory), nil
}
