// Package summary produces document summaries: map-reduce over a
// document's sections, with each section's summary cached by its content
// hash so an edit re-summarises only what changed. Finished summaries live
// in Postgres and are cached in Redis under a key that includes the
// document's content hash, the model, the prompt version and the length, so
// a new document version can never be served a stale summary.
package summary

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/protostar/protostar/internal/telemetry"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/worker"
)

// RequestStore is what the API side reads and writes, every call scoped to
// the caller's tenant.
type RequestStore interface {
	Document(ctx context.Context, tenantID, id string) (protostar.Document, error)
	FindSummary(ctx context.Context, tenantID, documentID, contentHash, length, model, promptVersion string) (protostar.Summary, error)
	LatestSummary(ctx context.Context, tenantID, documentID, length string) (protostar.Summary, error)
	CreateJob(ctx context.Context, j protostar.Job, maxActive int) (protostar.Job, error)
}

// JobStore is what the worker side reads and writes for a job, which names
// its document and tenant.
type JobStore interface {
	DocumentByID(ctx context.Context, id string) (protostar.Document, bool, error)
	CancelJob(ctx context.Context, id, reason string) error
	Sections(ctx context.Context, documentID string, version int, withText bool, fn func(protostar.Section) error) error
	SectionSummary(ctx context.Context, tenantID, documentID string, hash []byte, length, model, promptVersion string) (string, bool, error)
	SaveSectionSummary(ctx context.Context, tenantID, documentID string, hash []byte, length, model, promptVersion, summary string) error
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

// Config tunes the requester.
type Config struct {
	MaxAttempts int // per summary job
	MaxActive   int // the tenant's cap on queued+running jobs
}

// Requester is the API side: it answers a summary that exists or starts the
// job that computes it.
type Requester struct {
	store RequestStore
	gen   Generator
	cache Cache
	disp  Dispatcher
	cfg   Config
}

// NewRequester returns the API side of summaries.
func NewRequester(store RequestStore, gen Generator, cache Cache, disp Dispatcher, cfg Config) *Requester {
	return &Requester{store: store, gen: gen, cache: cache, disp: disp, cfg: cfg}
}

// Handler is the worker side: it runs summary jobs.
type Handler struct {
	store  JobStore
	gen    Generator
	cache  Cache
	runner *worker.Runner
	tracer trace.Tracer
}

// NewHandler returns the worker side of summaries; runner runs its jobs'
// attempts, and tracer traces each map and reduce call (nil: none).
func NewHandler(store JobStore, gen Generator, cache Cache, runner *worker.Runner, tracer trace.Tracer) *Handler {
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Handler{store: store, gen: gen, cache: cache, runner: runner, tracer: tracer}
}

// generate runs one map or reduce call in its own span.
func (s *Handler) generate(ctx context.Context, j protostar.Job, in protostar.SummaryInput) (string, error) {
	name := "summary map"
	if in.Reduce {
		name = "summary reduce"
	}
	ctx, span := s.tracer.Start(ctx, name, trace.WithAttributes(telemetry.KeyJobID.String(j.ID), telemetry.KeyAttempt.Int(j.Attempts),
		attribute.String("protostar.summary.length", in.Length), attribute.Int("protostar.summary.input_bytes", len(in.Text)),
		attribute.String("protostar.generate.model", s.gen.Model())))
	out, err := s.gen.Summarize(ctx, in)
	telemetry.End(span, err)
	return out, err
}

// Request returns the summary of the document's indexed content if one
// exists (cached is then true), or starts a job that computes it.
func (s *Requester) Request(ctx context.Context, tenantID, documentID, length string) (*protostar.Summary, *protostar.Job, error) {
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
	key := cacheKey(s.gen, tenantID, doc.ID, doc.ContentHash, length)
	if raw, ok := s.cache.Get(ctx, key); ok {
		var sum protostar.Summary
		if json.Unmarshal(raw, &sum) == nil {
			return &sum, nil, nil
		}
	}
	sum, err := s.store.FindSummary(ctx, tenantID, doc.ID, doc.ContentHash, length, s.gen.Model(), s.gen.PromptVersion())
	if err == nil {
		putCache(ctx, s.cache, key, sum)
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
func (s *Requester) Latest(ctx context.Context, tenantID, documentID, length string) (protostar.Summary, error) {
	if length != "" && !protostar.ValidSummaryLength(length) {
		return protostar.Summary{}, protostar.Errorf(protostar.EINVALID, "length must be short, medium or long, got %q", length)
	}
	return s.store.LatestSummary(ctx, tenantID, documentID, length)
}

// Handle runs the summary job with the given id; it is the queue handler.
func (s *Handler) Handle(ctx context.Context, jobID string) error {
	return s.runner.Run(ctx, jobID, s.summarize)
}

func (s *Handler) summarize(ctx context.Context, j protostar.Job, p *worker.Progress) error {
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
		text, ok, err := s.store.SectionSummary(ctx, doc.TenantID, doc.ID, sec.Hash, params.Length, model, pv)
		if err != nil {
			return err
		}
		if ok {
			res.SectionsReused++
		} else {
			if text, err = s.generate(ctx, j, protostar.SummaryInput{Text: sec.Text, HeadingPath: sec.HeadingPath, Length: params.Length}); err != nil {
				return fmt.Errorf("summarise section %q: %w", strings.Join(sec.HeadingPath, " > "), err)
			}
			res.SectionsSummarized++
			res.GeneratorCalls++
			if err := s.store.SaveSectionSummary(ctx, doc.TenantID, doc.ID, sec.Hash, params.Length, model, pv, text); err != nil {
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
	final, err := s.reduce(ctx, j, parts, params.Length, &res)
	if err != nil {
		return err
	}
	sum, err := s.store.SaveSummary(ctx, j, protostar.Summary{TenantID: doc.TenantID, DocumentID: doc.ID, Version: doc.IndexedVersion,
		ContentHash: doc.ContentHash, Length: params.Length, Model: model, PromptVersion: pv, Text: final, Sections: total}, res)
	if err != nil {
		return err
	}
	putCache(ctx, s.cache, cacheKey(s.gen, doc.TenantID, doc.ID, doc.ContentHash, params.Length), sum)
	return nil
}

// reduceGroup is how many partial summaries one reduce call combines; more
// are reduced in rounds, so any number of sections fits.
const reduceGroup = 16

func (s *Handler) reduce(ctx context.Context, j protostar.Job, parts []string, length string, res *protostar.SummaryResult) (string, error) {
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
			out, err := s.generate(ctx, j, protostar.SummaryInput{Text: strings.Join(group, "\n"), Length: length, Reduce: true})
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

// cacheKey is where a finished summary is cached: it names everything the
// summary depends on, so a new version or model never hits a stale one.
func cacheKey(gen Generator, tenantID, documentID, contentHash, length string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{tenantID, documentID, contentHash, length, gen.Model(), gen.PromptVersion()}, "\x00")))
	return "summary:" + tenantID + ":" + hex.EncodeToString(h[:])
}

func putCache(ctx context.Context, cache Cache, key string, sum protostar.Summary) {
	if raw, err := json.Marshal(sum); err == nil {
		cache.Set(ctx, key, raw)
	}
}
