package bucketsync

import (
	"context"
	"mime"
	"slices"
	"strings"

	"github.com/protostar/protostar"
)

// Store applies an object's state to its document under the key's lock.
type Store interface {
	SyncObject(ctx context.Context, s protostar.ObjectSync,
		stat func(context.Context) (protostar.ObjectState, error)) (string, protostar.Job, error)
	TenantActive(ctx context.Context, id string) (bool, error)
}

// Objects reads objects of the bucket.
type Objects interface {
	Stat(ctx context.Context, key string) (protostar.ObjectInfo, error)
}

// Dispatcher hands a committed job to the queue, best effort.
type Dispatcher interface {
	Dispatch(ctx context.Context, j protostar.Job)
}

// Config is what the sync needs to know of the deployment.
type Config struct {
	Bucket     string
	Suffixes   []string // keys that are documents end so (case-insensitively)
	EnvTenants []string // tenants of PROTOSTAR_API_KEYS, which have no row
	// MarkHeader is the user metadata protostar marks its own writes with.
	MarkHeader string
	// The limits of a submission.
	MaxAttempts, MaxActive, MaxChunks int
}

// Syncer applies one key's object to its document.
type Syncer struct {
	store   Store
	objects Objects
	queue   Dispatcher
	cfg     Config
	env     map[string]bool
}

// NewSyncer returns a Syncer.
func NewSyncer(store Store, objects Objects, queue Dispatcher, cfg Config) *Syncer {
	env := map[string]bool{}
	for _, t := range cfg.EnvTenants {
		env[t] = true
	}
	for i, s := range cfg.Suffixes {
		cfg.Suffixes[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return &Syncer{store: store, objects: objects, queue: queue, cfg: cfg, env: env}
}

// Resolve names the tenant and document key of an object key of the
// bucket: its first segment is the tenant (uploads store objects so). It
// returns an empty tenant, and why, for objects that are no tenant's
// document: protostar's own prefix, an unknown or deleted tenant, a key
// that is not a valid document key (or not in NFC), or a suffix that is not
// synced.
func (s *Syncer) Resolve(ctx context.Context, objectKey string) (tenant, key, why string, err error) {
	tenant, key, ok := strings.Cut(objectKey, "/")
	switch {
	case !ok || tenant == "" || strings.HasPrefix(tenant, "."):
		return "", "", "outside every tenant's prefix", nil
	case !s.Syncable(key):
		return "", "", "not a document key", nil
	}
	if !s.env[tenant] {
		active, err := s.store.TenantActive(ctx, tenant)
		if err != nil {
			return "", "", "", err
		}
		if !active {
			return "", "", "no such tenant", nil
		}
	}
	return tenant, key, "", nil
}

// Syncable reports whether a document key (without the tenant prefix) is
// one the sync keeps: valid, in NFC (the form documents are keyed by) and
// with a synced suffix.
func (s *Syncer) Syncable(key string) bool {
	norm, err := protostar.NormalizeKey(key)
	if err != nil || norm != key {
		return false
	}
	lower := strings.ToLower(key)
	return slices.ContainsFunc(s.cfg.Suffixes, func(suffix string) bool { return strings.HasSuffix(lower, suffix) })
}

// Apply brings the tenant's document of key in step with its object and
// dispatches the ingest job it submitted, if any. seq is the event's
// sequencer (empty for a reconciliation); source says which of the two
// asks.
func (s *Syncer) Apply(ctx context.Context, tenant, key, seq, source string) (string, error) {
	outcome, job, err := s.store.SyncObject(ctx, protostar.ObjectSync{TenantID: tenant, Key: key, Sequencer: seq,
		Source: source, MaxAttempts: s.cfg.MaxAttempts, MaxActive: s.cfg.MaxActive, MaxChunks: s.cfg.MaxChunks},
		func(ctx context.Context) (protostar.ObjectState, error) { return s.stat(ctx, tenant, key) })
	if err == nil && job.ID != "" {
		s.queue.Dispatch(ctx, job)
	}
	return outcome, err
}

// stat HEADs the object and reads its x-amz-meta-* headers as metadata,
// validated like request metadata.
func (s *Syncer) stat(ctx context.Context, tenant, key string) (protostar.ObjectState, error) {
	info, err := s.objects.Stat(ctx, protostar.ObjectKey(tenant, key))
	if protostar.ErrorCode(err) == protostar.ENOTFOUND {
		return protostar.ObjectState{}, nil
	}
	if err != nil {
		return protostar.ObjectState{}, err
	}
	st := protostar.ObjectState{Exists: true, ETag: info.ETag, Size: info.Size}
	dec := new(mime.WordDecoder)
	for k, v := range info.Metadata {
		if k == s.cfg.MarkHeader {
			st.WrittenBy = v
			continue
		}
		// Non-ASCII values travel RFC 2047-encoded (=?UTF-8?Q?…?=), as
		// minio-go and the AWS SDKs send them.
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		if st.Metadata == nil {
			st.Metadata = map[string]any{}
		}
		st.Metadata[k] = v
	}
	if err := protostar.ValidateMetadata("object metadata (x-amz-meta-*)", st.Metadata); err != nil {
		return st, err
	}
	return st, nil
}
