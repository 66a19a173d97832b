// Package summary produces document summaries: map-reduce over a
// document's sections, with each section's summary cached by its content
// hash so an edit re-summarises only what changed. Finished summaries live
// in Postgres and are cached in Redis under a key that includes the
// document's content hash, the model, the prompt version and the length, so
// a new document version can never be served a stale summary.
package summary

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/worker"
)

// Store is the durable side of summaries.
type Store interface {
	Document(ctx context.Context, tenantID, id string) (protostar.Document, error)
	DocumentByID(ctx context.Context, id string) (protostar.Document, bool, error)
	FindSummary(ctx context.Context, tenantID, documentID, contentHash, length, model, promptVersion string) (protostar.Summary, error)
	LatestSummary(ctx context.Context, tenantID, documentID, length string) (protostar.Summary, error)
	CreateJob(ctx context.Context, j protostar.Job, maxActive int) (protostar.Job, error)
	CancelJob(ctx context.Context, id, reason string) error
	Sections(ctx context.Context, documentID string, version int, withText bool, fn func(protostar.Section) error) error
	SectionSummary(ctx context.Context, tenantID string, hash []byte, length, model, promptVersion string) (string, bool, error)
	SaveSectionSummary(ctx context.Context, tenantID string, hash []byte, length, model, promptVersion, summary string) error
	SaveSummary(ctx context.Context, j protostar.Job, s protostar.Summary, res protostar.SummaryResult) (protostar.Summary, error)
}

// Generator writes summaries.
type Generator interface {
	Summarize(ctx context.Context, in protostar.SummaryInput) (string, error)
	Model() string
	PromptVersion() string
}

// Cache holds finished summaries for a while; misses and outages are fine.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool)
	Set(ctx context.Context, key string, value []byte)
}

// Dispatcher hands a committed job to the queue, best effort.
type Dispatcher interface {
	Dispatch(ctx context.Context, j protostar.Job)
}

// Config tunes the service.
type Config struct {
	MaxAttempts int // per summary job
	MaxActive   int // the tenant's cap on queued+running jobs
}

// Service requests and computes summaries.
type Service struct {
	store  Store
	gen    Generator
	cache  Cache
	disp   Dispatcher
	runner *worker.Runner
	cfg    Config
	logger *slog.Logger
}

// New returns a summary service. runner may be nil in a process that only
// serves the API.
func New(logger *slog.Logger, store Store, gen Generator, cache Cache, disp Dispatcher, runner *worker.Runner, cfg Config) *Service {
	return &Service{store: store, gen: gen, cache: cache, disp: disp, runner: runner, cfg: cfg,
		logger: logger.With("component", "summary")}
}

// Request returns the summary of the document's indexed content if one
// exists (cached is then true), or starts a job that computes it.
func (s *Service) Request(ctx context.Context, tenantID, documentID, length string) (*protostar.Summary, *protostar.Job, error) {
	if !protostar.ValidSummaryLength(length) {
		return nil, nil, protostar.Errorf(protostar.EINVALID, "length must be short, medium or long, got %q", length)
	}
	doc, err := s.store.Document(ctx, tenantID, documentID)
	if err != nil {
		return nil, nil, err
	}
	if doc.IndexedVersion == 0 {
		return nil, nil, protostar.Errorf(protostar.ECONFLICT, "document %s is not indexed yet (status %s); summarise it when it is ready", doc.ID, doc.Status)
	}
	key := s.cacheKey(tenantID, doc.ID, doc.ContentHash, length)
	if raw, ok := s.cache.Get(ctx, key); ok {
		var sum protostar.Summary
		if json.Unmarshal(raw, &sum) == nil {
			return &sum, nil, nil
		}
	}
	sum, err := s.store.FindSummary(ctx, tenantID, doc.ID, doc.ContentHash, length, s.gen.Model(), s.gen.PromptVersion())
	if err == nil {
		s.store2cache(ctx, key, sum)
		return &sum, nil, nil
	}
	if protostar.ErrorCode(err) != protostar.ENOTFOUND {
		return nil, nil, err
	}
	params, _ := json.Marshal(map[string]string{"length": length})
	j, err := s.store.CreateJob(ctx, protostar.Job{TenantID: tenantID, Type: protostar.JobSummary, DocumentID: doc.ID,
		Version: doc.IndexedVersion, Params: params, MaxAttempts: s.cfg.MaxAttempts}, s.cfg.MaxActive)
	if err != nil {
		return nil, nil, err
	}
	s.disp.Dispatch(ctx, j)
	return nil, &j, nil
}

// Latest returns the newest summary of a document (of length, if given).
func (s *Service) Latest(ctx context.Context, tenantID, documentID, length string) (protostar.Summary, error) {
	if length != "" && !protostar.ValidSummaryLength(length) {
		return protostar.Summary{}, protostar.Errorf(protostar.EINVALID, "length must be short, medium or long, got %q", length)
	}
	return s.store.LatestSummary(ctx, tenantID, documentID, length)
}

// Handle runs the summary job with the given id; it is the queue handler.
func (s *Service) Handle(ctx context.Context, jobID string) error {
	return s.runner.Run(ctx, jobID, s.summarize)
}

func (s *Service) summarize(ctx context.Context, j protostar.Job, p *worker.Progress) error {
	var params struct{ Length string }
	if err := json.Unmarshal(j.Params, &params); err != nil || !protostar.ValidSummaryLength(params.Length) {
		return protostar.Errorf(protostar.EINVALID, "summary job has invalid parameters %s", j.Params)
	}
	doc, deleted, err := s.store.DocumentByID(ctx, j.DocumentID)
	if err != nil {
		return err
	}
	if deleted || doc.IndexedVersion == 0 {
		return s.store.CancelJob(ctx, j.ID, "document deleted or no longer indexed")
	}
	total := 0
	if err := s.store.Sections(ctx, doc.ID, doc.IndexedVersion, false, func(protostar.Section) error { total++; return nil }); err != nil {
		return err
	}
	var (
		res   = protostar.SummaryResult{SectionsTotal: total}
		parts []string
		model = s.gen.Model()
		pv    = s.gen.PromptVersion()
	)
	err = s.store.Sections(ctx, doc.ID, doc.IndexedVersion, true, func(sec protostar.Section) error {
		text, ok, err := s.store.SectionSummary(ctx, doc.TenantID, sec.Hash, params.Length, model, pv)
		if err != nil {
			return err
		}
		if ok {
			res.SectionsReused++
		} else {
			if text, err = s.gen.Summarize(ctx, protostar.SummaryInput{Text: sec.Text, HeadingPath: sec.HeadingPath, Length: params.Length}); err != nil {
				return fmt.Errorf("summarise section %q: %w", strings.Join(sec.HeadingPath, " > "), err)
			}
			res.SectionsSummarized++
			res.GeneratorCalls++
			if err := s.store.SaveSectionSummary(ctx, doc.TenantID, sec.Hash, params.Length, model, pv, text); err != nil {
				return err
			}
		}
		if text = strings.TrimSpace(text); text != "" {
			parts = append(parts, text)
		}
		p.Set(res.SectionsReused+res.SectionsSummarized, total)
		return nil
	})
	if err != nil {
		return err
	}
	final, err := s.reduce(ctx, parts, params.Length, &res)
	if err != nil {
		return err
	}
	sum, err := s.store.SaveSummary(ctx, j, protostar.Summary{TenantID: doc.TenantID, DocumentID: doc.ID, Version: doc.IndexedVersion,
		ContentHash: doc.ContentHash, Length: params.Length, Model: model, PromptVersion: pv, Text: final, Sections: total}, res)
	if err != nil {
		return err
	}
	s.store2cache(ctx, s.cacheKey(doc.TenantID, doc.ID, doc.ContentHash, params.Length), sum)
	return nil
}

// reduceGroup is how many partial summaries one reduce call combines; more
// are reduced in rounds, so any number of sections fits.
const reduceGroup = 16

func (s *Service) reduce(ctx context.Context, parts []string, length string, res *protostar.SummaryResult) (string, error) {
	switch len(parts) {
	case 0:
		return "", nil
	case 1:
		return parts[0], nil
	}
	for len(parts) > 1 {
		var next []string
		for i := 0; i < len(parts); i += reduceGroup {
			group := parts[i:min(i+reduceGroup, len(parts))]
			out, err := s.gen.Summarize(ctx, protostar.SummaryInput{Text: strings.Join(group, "\n"), Length: length, Reduce: true})
			if err != nil {
				return "", fmt.Errorf("reduce %d section summaries: %w", len(group), err)
			}
			res.GeneratorCalls++
			next = append(next, strings.TrimSpace(out))
		}
		parts = next
	}
	return parts[0], nil
}

func (s *Service) cacheKey(tenantID, documentID, contentHash, length string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{tenantID, documentID, contentHash, length, s.gen.Model(), s.gen.PromptVersion()}, "\x00")))
	return "summary:" + hex.EncodeToString(h[:])
}

func (s *Service) store2cache(ctx context.Context, key string, sum protostar.Summary) {
	if raw, err := json.Marshal(sum); err == nil {
		s.cache.Set(ctx, key, raw)
	}
}
