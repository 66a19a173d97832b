package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/google/uuid"

	"github.com/protostar/protostar"
)

// Objects stores uploaded files.
type Objects interface {
	PutStream(ctx context.Context, key string, r io.Reader, maxBytes int64, contentType string) (protostar.ObjectInfo, error)
	Copy(ctx context.Context, src, dst, mark string) error
	Delete(ctx context.Context, key string) error
}

type createDocumentJSON struct {
	Key      string         `json:"key" doc:"Object key in the bucket, e.g. notes/a.md" maxLength:"1024" example:"guides/postgres-tuning.md"`
	Metadata map[string]any `json:"metadata,omitempty" doc:"Free-form metadata; string values can be used in search filters" example:"{\"team\":\"infra\"}"`
}

type createDocumentMultipart struct {
	File     string `json:"file" format:"binary" doc:"The Markdown file"`
	Key      string `json:"key,omitempty" doc:"Object key; defaults to the file name" example:"guides/postgres-tuning.md"`
	Metadata string `json:"metadata,omitempty" doc:"JSON object of metadata" example:"{\"team\":\"infra\"}"`
}

type documentAndJob struct {
	Body struct {
		Document protostar.Document `json:"document"`
		Job      protostar.Job      `json:"job"`
	}
}

// createDocumentInput reads the body itself, since the endpoint takes JSON
// or a streamed multipart upload.
type createDocumentInput struct{ hctx huma.Context }

func (in *createDocumentInput) Resolve(ctx huma.Context) []error {
	in.hctx = ctx
	return nil
}

type documentIDInput struct {
	ID string `path:"id" doc:"Document id" example:"0193a4f2-6c1e-7b3a-9f5e-2d8c4a1b7e90"`
}

type documentOutput struct{ Body protostar.Document }

type listDocumentsInput struct {
	Status    string `query:"status" enum:"pending,indexing,ready,failed" doc:"Only documents with this status"`
	Key       string `query:"key" maxLength:"1024" doc:"Only the document with exactly this key"`
	KeyPrefix string `query:"key_prefix" maxLength:"1024" doc:"Only documents whose key starts with this"`
	Limit     int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Cursor    string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
}

type listDocumentsOutput struct {
	Body struct {
		Documents  []protostar.Document `json:"documents"`
		NextCursor string               `json:"next_cursor,omitempty"`
	}
}

func (s *Server) registerDocuments(api huma.API) {
	reg := api.OpenAPI().Components.Schemas
	huma.Register(api, huma.Operation{
		OperationID: "create-document", Method: http.MethodPost, Path: "/v1/documents", Tags: []string{"documents"},
		Summary:       "Submit a document for ingestion",
		Description:   "Takes JSON naming an object already in the bucket, or a multipart upload with a `file` part. Posting an existing key creates a new version of the same document. Answers 202 with the document and its ingest job at once; the work runs in the background and is never lost, even while the queue is down.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{400, 401, 413, 415, 429},
	}, s.createDocument)
	// Documented here rather than on the operation: a declared body would
	// make huma read and buffer it, and uploads must stream.
	api.OpenAPI().Paths["/v1/documents"].Post.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json":    {Schema: reg.Schema(reflect.TypeOf(createDocumentJSON{}), true, "CreateDocument")},
		"multipart/form-data": {Schema: reg.Schema(reflect.TypeOf(createDocumentMultipart{}), true, "UploadDocument")},
	}}
	huma.Register(api, huma.Operation{
		OperationID: "get-document", Method: http.MethodGet, Path: "/v1/documents/{id}", Tags: []string{"documents"},
		Summary: "Get a document", Errors: []int{401, 404},
	}, func(ctx context.Context, in *documentIDInput) (*documentOutput, error) {
		d, err := s.deps.Store.Document(ctx, TenantFrom(ctx), in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &documentOutput{Body: d}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-documents", Method: http.MethodGet, Path: "/v1/documents", Tags: []string{"documents"},
		Summary: "List documents, newest first", Errors: []int{400, 401},
	}, func(ctx context.Context, in *listDocumentsInput) (*listDocumentsOutput, error) {
		if in.Key != "" {
			// No stored key fails this, and it keeps NUL bytes and invalid
			// UTF-8 (which Postgres rejects) away from the query.
			var err error
			if in.Key, err = protostar.NormalizeKey(in.Key); err != nil {
				return nil, s.problem(ctx, err)
			}
		}
		if err := protostar.ValidKeyPrefix(in.KeyPrefix); err != nil {
			return nil, s.problem(ctx, err)
		}
		docs, next, err := s.deps.Store.Documents(ctx, TenantFrom(ctx), protostar.DocumentFilter{Status: in.Status, Key: in.Key,
			KeyPrefix: in.KeyPrefix, Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &listDocumentsOutput{}
		out.Body.Documents, out.Body.NextCursor = nonNilSlice(docs), next
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-document", Method: http.MethodDelete, Path: "/v1/documents/{id}", Tags: []string{"documents"},
		Summary: "Delete a document", Description: "Its chunks leave search results at once; pending jobs are canceled. " +
			"Its chunks, summaries and, for an uploaded document, the object protostar stored are removed in the background; " +
			"an object registered by key belongs to the producer and is kept.",
		DefaultStatus: http.StatusNoContent, Errors: []int{401, 404},
	}, func(ctx context.Context, in *documentIDInput) (*struct{}, error) {
		if err := s.deps.Store.DeleteDocument(ctx, TenantFrom(ctx), in.ID); err != nil {
			return nil, s.problem(ctx, err)
		}
		return nil, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "reindex-document", Method: http.MethodPost, Path: "/v1/documents/{id}/reindex", Tags: []string{"documents"},
		Summary: "Re-read and re-index a document", DefaultStatus: http.StatusAccepted, Errors: []int{401, 404, 429},
	}, func(ctx context.Context, in *documentIDInput) (*documentAndJob, error) {
		d, j, err := s.deps.Store.ReindexDocument(ctx, TenantFrom(ctx), in.ID, s.cfg.JobMaxAttempts, s.cfg.TenantMaxJobs)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return s.accepted(ctx, d, j), nil
	})
}

func (s *Server) createDocument(ctx context.Context, in *createDocumentInput) (*documentAndJob, error) {
	r, w := humago.Unwrap(in.hctx)
	sub, err := s.readSubmission(ctx, w, r)
	if err != nil {
		s.discardStaged(ctx, sub.Staged)
		return nil, s.problem(ctx, err)
	}
	d, j, err := s.deps.Store.SubmitDocument(ctx, sub)
	if err != nil {
		s.discardStaged(ctx, sub.Staged)
		return nil, s.problem(ctx, err)
	}
	s.promoteStaged(ctx, sub, d)
	return s.accepted(ctx, d, j), nil
}

// promoteStaged makes an accepted upload the live object at its key, once
// its document and job are committed. The job reads the staged copy while
// it exists, so a failed promotion (logged) costs the live object's
// freshness, never the index's correctness; the staged copy is kept then.
// It holds the key's lock, so the purge of a deleted document with the
// same key never removes the object it writes.
func (s *Server) promoteStaged(ctx context.Context, sub protostar.Submission, d protostar.Document) {
	if sub.Staged == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	live := protostar.ObjectKey(sub.TenantID, sub.Key)
	err := s.deps.Store.WithKeyLock(ctx, sub.TenantID, sub.Key, func(ctx context.Context, _ bool) error {
		return s.deps.Objects.Copy(ctx, sub.Staged, live, d.ID+":"+strconv.Itoa(d.Version))
	})
	if err != nil {
		s.logger.Warn("could not promote an accepted upload; its job reads the staged copy", "staged", sub.Staged, "error", err)
		return
	}
	if err := s.deps.Objects.Delete(ctx, sub.Staged); err != nil {
		s.logger.Warn("could not delete a promoted upload's staged copy", "staged", sub.Staged, "error", err)
	}
}

// discardStaged deletes the staged upload of a refused request, so the
// bucket is as it was.
func (s *Server) discardStaged(ctx context.Context, staged string) {
	if staged == "" {
		return
	}
	if err := s.deps.Objects.Delete(context.WithoutCancel(ctx), staged); err != nil {
		s.logger.Warn("could not delete a refused upload's staged copy", "staged", staged, "error", err)
	}
}

// accepted dispatches the committed job (best effort) and builds the 202.
func (s *Server) accepted(ctx context.Context, d protostar.Document, j protostar.Job) *documentAndJob {
	s.deps.Dispatcher.Dispatch(ctx, j)
	out := &documentAndJob{}
	out.Body.Document, out.Body.Job = d, j
	return out
}

func (s *Server) readSubmission(ctx context.Context, w http.ResponseWriter, r *http.Request) (protostar.Submission, error) {
	sub := protostar.Submission{TenantID: TenantFrom(ctx), MaxAttempts: s.cfg.JobMaxAttempts, MaxActive: s.cfg.TenantMaxJobs,
		MaxChunks: s.cfg.TenantMaxChunks}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return sub, protostar.Errorf(protostar.EUNSUPPORTED, "Content-Type must be application/json or multipart/form-data")
	}
	var meta map[string]any
	switch mt {
	case "application/json":
		var body createDocumentJSON
		if err := decodeJSON(http.MaxBytesReader(w, r.Body, s.cfg.MaxJSONBytes), &body); err != nil {
			return sub, err
		}
		sub.Key, meta = body.Key, body.Metadata
		if sub.Key, err = protostar.NormalizeKey(sub.Key); err != nil {
			return sub, err
		}
		if err := protostar.ValidateMetadata("metadata", meta); err != nil {
			return sub, err
		}
	case "multipart/form-data":
		release, err := s.uploads.acquire(sub.TenantID)
		if err != nil {
			return sub, err
		}
		defer release()
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes+1<<20)
		if sub.Key, sub.Staged, meta, err = s.upload(ctx, r); err != nil {
			return sub, err
		}
	default:
		return sub, protostar.Errorf(protostar.EUNSUPPORTED, "Content-Type must be application/json or multipart/form-data, got %s", excerpt(mt))
	}
	if meta != nil {
		raw, err := json.Marshal(meta)
		if err != nil {
			return sub, protostar.Wrap(protostar.EINVALID, err, "metadata is not encodable")
		}
		sub.Metadata = raw
	}
	return sub, nil
}

// upload streams the multipart file part to the object store under a
// staging key (protostar.StagingKey), holding one 5 MiB part in memory and
// no temporary file. The key and metadata parts may come before or after
// it; they are validated once the body is read, and only once the document
// and job are committed does the staged copy become the live object. On
// any error the staged key is returned too, so the caller deletes it and a
// refused upload leaves the bucket as it was.
func (s *Server) upload(ctx context.Context, r *http.Request) (key, staged string, meta map[string]any, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return "", "", nil, bodyError(err, "multipart body")
	}
	var filename, rawMeta string
	files := 0
	for parts := 1; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", staged, nil, bodyError(err, "multipart body")
		}
		if parts > maxUploadParts {
			return "", staged, nil, protostar.Errorf(protostar.ETOOLARGE, "multipart body has more than %d parts", maxUploadParts)
		}
		switch part.FormName() {
		case "file":
			if files++; files > 1 {
				return "", staged, nil, protostar.Errorf(protostar.EINVALID, "multipart body needs exactly one part named file")
			}
			filename = part.FileName()
			staged = protostar.StagingKey(TenantFrom(ctx), uuid.NewString())
			src := &sourceReader{r: part}
			if _, err := s.deps.Objects.PutStream(ctx, staged, src, s.cfg.MaxUploadBytes, partContentType(part.Header.Get("Content-Type"))); err != nil {
				if berr := src.failure(); berr != nil { // the client's body broke, not the store
					return "", staged, nil, bodyError(berr, "multipart body")
				}
				return "", staged, nil, err
			}
		case "key":
			if key, err = smallPart(part, protostar.MaxKeyBytes, "key"); err != nil {
				return "", staged, nil, err
			}
		case "metadata":
			if rawMeta, err = smallPart(part, int(s.cfg.MaxJSONBytes), "metadata"); err != nil {
				return "", staged, nil, err
			}
		}
	}
	if files != 1 {
		return "", staged, nil, protostar.Errorf(protostar.EINVALID, "multipart body needs exactly one part named file")
	}
	if key == "" {
		key = filename
	}
	if key, err = protostar.NormalizeKey(key); err != nil {
		return "", staged, nil, err
	}
	if rawMeta != "" {
		if err := decodeJSON(strings.NewReader(rawMeta), &meta); err != nil {
			return "", staged, nil, protostar.Wrap(protostar.EINVALID, err, "metadata must be a JSON object: %s", protostar.ErrorMessage(err))
		}
	}
	if err := protostar.ValidateMetadata("metadata", meta); err != nil {
		return "", staged, nil, err
	}
	return key, staged, meta, nil
}

// sourceReader records the first error of the request body it reads, so
// a body that breaks mid-file (truncated, malformed, stalled, too large) is
// refused as the client's mistake whatever the store makes of it.
// The store may read it from another goroutine (minio-go's transport).
type sourceReader struct {
	r io.Reader

	mu  sync.Mutex
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// failure is the body's first error, if any.
func (s *sourceReader) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// maxUploadParts bounds the parts of an upload: file, key and metadata are
// all it uses; other parts are read past, up to this many.
const maxUploadParts = 16

// smallPart reads a form field of at most limit bytes.
func smallPart(part io.Reader, limit int, name string) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(part, int64(limit)+1))
	if err != nil {
		return "", bodyError(err, "multipart body")
	}
	if len(raw) > limit {
		return "", protostar.Errorf(protostar.ETOOLARGE, "the %s part is larger than %d bytes", name, limit)
	}
	return string(raw), nil
}

func partContentType(ct string) string {
	if ct != "" && ct != "application/octet-stream" {
		return ct
	}
	return "text/markdown; charset=utf-8"
}

// decodeJSON decodes exactly one JSON value, rejecting unknown fields,
// trailing data and bytes that are not UTF-8 (which encoding/json would
// silently replace with U+FFFD). r must be bounded.
func decodeJSON(r io.Reader, v any) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return bodyError(err, "JSON body")
	}
	if !utf8.Valid(raw) {
		return protostar.Errorf(protostar.EINVALID, "JSON body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, "JSON body")
	}
	if dec.More() {
		return protostar.Errorf(protostar.EINVALID, "JSON body has data after the first value")
	}
	return nil
}

func bodyError(err error, what string) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var domain *protostar.Error
	switch {
	case errors.As(err, &domain): // e.g. a stalled body (idleBody)
		return domain
	case errors.As(err, &tooBig):
		return protostar.Errorf(protostar.ETOOLARGE, "%s is larger than the %d-byte limit", what, tooBig.Limit)
	case errors.Is(err, multipart.ErrMessageTooLarge):
		return protostar.Errorf(protostar.ETOOLARGE, "%s has too many parts or too large part headers", what)
	case errors.As(err, &syntax):
		return protostar.Errorf(protostar.EINVALID, "%s is not valid JSON at byte %d", what, syntax.Offset)
	case errors.As(err, &typ):
		return protostar.Errorf(protostar.EINVALID, "%s: field %q must be %s", what, typ.Field, typ.Type)
	case errors.Is(err, io.EOF):
		return protostar.Errorf(protostar.EINVALID, "%s is empty", what)
	}
	return protostar.Wrap(protostar.EINVALID, err, "%s is malformed: %v", what, err)
}

func validLabel(what, s string, maxLen int) error {
	if s == "" || len(s) > maxLen {
		return protostar.Errorf(protostar.EINVALID, "%s must be 1 to %d bytes", what, maxLen)
	}
	if !utf8.ValidString(s) {
		return protostar.Errorf(protostar.EINVALID, "%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return protostar.Errorf(protostar.EINVALID, "%s must not contain control characters", what)
		}
	}
	return nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
