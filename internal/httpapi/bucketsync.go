package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/bucketsync"
)

// s3EventsPath takes bucket notifications. It is authenticated by its own
// token, not by a tenant's key: the key of each object names its tenant.
const s3EventsPath = "/v1/s3-events"

// BucketEvents stores received bucket notifications.
type BucketEvents interface {
	SaveObjectEvents(ctx context.Context, evs []protostar.ObjectEvent) error
}

// Jobs creates jobs that belong to no document submission.
type Jobs interface {
	CreateJob(ctx context.Context, j protostar.Job, maxActive int) (protostar.Job, error)
}

// BucketSyncDeps serve the bucket sync's routes.
type BucketSyncDeps struct {
	Events   BucketEvents
	Token    string // PROTOSTAR_S3_EVENTS_TOKEN; the intake is off when empty
	Received func(n int)
	Jobs     Jobs
}

// s3Events stores a notification and answers 200 at once; a processor
// applies it. A 503 (Postgres down) makes MinIO keep it in its queue
// directory and send it again.
func (s *Server) s3Events(w http.ResponseWriter, r *http.Request) {
	d := s.deps.BucketSync
	if d.Token == "" || d.Events == nil {
		writeDomainProblem(w, protostar.Errorf(protostar.ENOTFOUND, "bucket notifications are off: set PROTOSTAR_S3_EVENTS_TOKEN"))
		return
	}
	if !tokenMatches(r, d.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="protostar-s3-events"`)
		writeDomainProblem(w, protostar.Errorf(protostar.EUNAUTHORIZED, "missing or wrong bucket notification token"))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxJSONBytes))
	if err != nil {
		writeDomainProblem(w, bodyError(err, "notification"))
		return
	}
	n, err := bucketsync.Parse(raw)
	if err != nil {
		writeDomainProblem(w, err)
		return
	}
	if n.SubscribeURL != "" {
		s.logger.Warn("an SNS topic asks to confirm its subscription to /v1/s3-events; confirm it by opening the URL",
			"subscribe_url", n.SubscribeURL)
	}
	if n.Undecodable > 0 {
		s.logger.Warn("bucket notification records with undecodable keys ignored", "records", n.Undecodable)
	}
	if err := d.Events.SaveObjectEvents(r.Context(), n.Events); err != nil {
		_ = s.problem(r.Context(), err) // logs it
		writeDomainProblem(w, err)
		return
	}
	if d.Received != nil {
		d.Received(len(n.Events))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"accepted": len(n.Events)})
}

// tokenMatches accepts the token as a bearer token (MinIO's auth_token) or
// as the password of basic auth (an SNS HTTPS subscription's
// https://user:token@host/… URL), compared in constant time.
func tokenMatches(r *http.Request, token string) bool {
	got := ""
	if _, pass, ok := r.BasicAuth(); ok {
		got = pass
	} else if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = t
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return got != "" && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (s *Server) registerBucketSync(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "sync-bucket", Method: http.MethodPost, Path: "/v1/sync", Tags: []string{"documents"},
		Summary: "Reconcile the documents with the bucket now",
		Description: "Starts a job that lists the tenant's prefix of the bucket (`<tenant>/…`) and brings its documents in step: " +
			"objects without a document are ingested, changed objects (ETag) re-ingested, documents whose object is gone deleted. " +
			"Its result counts them. A sync already queued or running is returned instead of a new one.",
		DefaultStatus: http.StatusAccepted, Errors: []int{400, 401, 429},
	}, func(ctx context.Context, _ *struct{}) (*jobOutput, error) {
		if s.deps.BucketSync.Jobs == nil {
			return nil, s.problem(ctx, errors.New("bucket sync is not wired"))
		}
		j, err := s.deps.BucketSync.Jobs.CreateJob(ctx, protostar.Job{TenantID: TenantFrom(ctx), Type: protostar.JobSync,
			MaxAttempts: s.cfg.JobMaxAttempts}, s.cfg.TenantMaxJobs)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		s.deps.Dispatcher.Dispatch(ctx, j)
		return &jobOutput{Body: j}, nil
	})
}
