package embedspace

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"golang.org/x/time/rate"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/ingest"
	"github.com/protostar/protostar/internal/worker"
)

// BackfillStore is what a backfill reads and writes.
type BackfillStore interface {
	Space(ctx context.Context, id int64) (protostar.EmbeddingSpace, error)
	SpaceCoverage(ctx context.Context, spaceID int64, tenantID string) ([]protostar.SpaceCoverage, error)
	// MissingChunks returns up to limit live chunks of the tenant above
	// id after without a vector in the space, in id order.
	MissingChunks(ctx context.Context, tenantID string, spaceID, after int64, limit int) ([]protostar.StoredChunk, error)
	SpaceVectorsByHash(ctx context.Context, tenantID string, spaceID int64, hashes [][]byte) (map[string][]float32, error)
	// WriteSpaceVectors commits only while the job's attempt holds it.
	WriteSpaceVectors(ctx context.Context, j protostar.Job, spaceID int64, ids []int64, vecs [][]float32) (int64, error)
	// FinishBackfill records success unless chunks still lack a vector.
	FinishBackfill(ctx context.Context, j protostar.Job, res protostar.SpaceBackfillResult, done int) error
}

// Runner claims a job and runs its task with heartbeats.
type Runner interface {
	Run(ctx context.Context, id string, task worker.Task) error
}

// BackfillConfig tunes backfills.
type BackfillConfig struct {
	Rate      float64 // chunks embedded per second by this process, over all its backfills; default 200
	BatchSize int     // chunks per embedding call and write; default 64
}

// Backfill handles JobEmbedBackfill jobs: it embeds a tenant's chunks
// that lack a vector in a space, batch by batch, each batch committed with
// the job attempt's fence, so a crashed or replaced attempt's successor
// goes on from what is committed and no chunk gets two vectors.
type Backfill struct {
	store    BackfillStore
	registry *Registry
	runner   Runner
	limiter  *rate.Limiter
	batch    int
	logger   *slog.Logger
}

// NewBackfill returns the handler of backfill jobs.
func NewBackfill(logger *slog.Logger, store BackfillStore, registry *Registry, runner Runner, cfg BackfillConfig) *Backfill {
	cfg.Rate = cmp.Or(cfg.Rate, 200)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 64)
	return &Backfill{store: store, registry: registry, runner: runner, batch: cfg.BatchSize,
		limiter: rate.NewLimiter(rate.Limit(cfg.Rate), max(cfg.BatchSize, int(cfg.Rate))), logger: logger.With("component", "backfill")}
}

// Handle runs one delivery of a backfill job.
func (b *Backfill) Handle(ctx context.Context, jobID string) error {
	return b.runner.Run(ctx, jobID, b.run)
}

func (b *Backfill) run(ctx context.Context, j protostar.Job, p *worker.Progress) error {
	var params struct {
		Space int64 `json:"space"`
	}
	if err := json.Unmarshal(j.Params, &params); err != nil || params.Space == 0 {
		return protostar.Errorf(protostar.EINVALID, "embed_backfill job %s names no embedding space", j.ID)
	}
	space, err := b.store.Space(ctx, params.Space)
	if err != nil {
		return err
	}
	if !space.Live() {
		return protostar.Errorf(protostar.EINVALID, "embedding space %d is retired", space.ID)
	}
	emb, err := b.registry.For(space)
	if err != nil {
		return err
	}
	cov, err := b.store.SpaceCoverage(ctx, space.ID, j.TenantID)
	if err != nil {
		return err
	}
	var done, total int
	if len(cov) == 1 {
		done, total = int(cov[0].Embedded), int(cov[0].Chunks)
	}
	p.Set(done, total)
	res := protostar.SpaceBackfillResult{Space: space.ID}
	// Passes in id order until one from the start finds nothing: rows
	// committed late with lower ids are found by the next pass.
	for after := int64(0); ; {
		chunks, err := b.store.MissingChunks(ctx, j.TenantID, space.ID, after, b.batch)
		if err != nil {
			return err
		}
		if len(chunks) == 0 {
			if after == 0 {
				break
			}
			after = 0
			continue
		}
		after = chunks[len(chunks)-1].ID
		n, err := b.batchOf(ctx, j, space, emb, chunks, &res)
		if err != nil {
			return err
		}
		done += n
		p.Set(done, max(total, done))
	}
	b.logger.Info("backfill done", "tenant", j.TenantID, "space", space.ID, "embedded", res.Embedded, "reused", res.Reused)
	return b.store.FinishBackfill(ctx, j, res, done)
}

// batchOf gives chunks their vectors in the space — reused from equal
// chunks the space holds, or embedded at the configured rate — and writes
// them; it returns how many were written.
func (b *Backfill) batchOf(ctx context.Context, j protostar.Job, space protostar.EmbeddingSpace, emb protostar.Embedder,
	chunks []protostar.StoredChunk, res *protostar.SpaceBackfillResult) (int, error) {
	hashes := make([][]byte, len(chunks))
	for i, c := range chunks {
		hashes[i] = c.Hash
	}
	reuse, err := b.store.SpaceVectorsByHash(ctx, j.TenantID, space.ID, hashes)
	if err != nil {
		return 0, err
	}
	ids := make([]int64, len(chunks))
	vecs := make([][]float32, len(chunks))
	var (
		missing []int
		texts   []string
	)
	for i, c := range chunks {
		ids[i] = c.ID
		if v, ok := reuse[string(c.Hash)]; ok {
			vecs[i] = v
			continue
		}
		missing = append(missing, i)
		texts = append(texts, ingest.EmbedText(c.HeadingPath, c.Text))
	}
	if len(texts) > 0 {
		if err := b.limiter.WaitN(ctx, len(texts)); err != nil {
			return 0, fmt.Errorf("backfill rate limit: %w", err)
		}
		out, err := emb.Embed(ctx, texts)
		if err != nil {
			return 0, fmt.Errorf("embed %d chunks for space %d: %w", len(texts), space.ID, err)
		}
		if len(out) != len(texts) {
			return 0, fmt.Errorf("embedder returned %d vectors for %d texts", len(out), len(texts))
		}
		for k, i := range missing {
			if len(out[k]) != space.Dimensions {
				return 0, protostar.Errorf(protostar.EINVALID, "embedder returned a %d-dimensional vector, space %d holds %d",
					len(out[k]), space.ID, space.Dimensions)
			}
			vecs[i] = out[k]
		}
	}
	n, err := b.store.WriteSpaceVectors(ctx, j, space.ID, ids, vecs)
	if err != nil {
		return 0, err
	}
	res.Embedded += len(texts)
	res.Reused += len(chunks) - len(texts)
	return int(n), nil
}
