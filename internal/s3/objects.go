package s3

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/protostar/protostar"
)

// ObjectInfo describes a stored object. ETag is the store's entity tag
// without quotes: it changes whenever the content changes, but for multipart
// uploads it is not the MD5 of the content, so it serves change detection
// only. LastModified is zero in Put's result: S3 does not return it.
type ObjectInfo = protostar.ObjectInfo

func objectInfo(oi minio.ObjectInfo) ObjectInfo {
	return ObjectInfo{Key: oi.Key, Size: oi.Size, ETag: oi.ETag, ContentType: oi.ContentType, LastModified: oi.LastModified}
}

// Open starts streaming the object at key. It sends the GET before it
// returns, so a missing key fails here with ENOTFOUND rather than on the
// first Read (minio-go's Client.GetObject is lazy), and the returned info
// describes exactly the bytes the stream delivers.
//
// The stream reads from the network as the caller reads, so memory use does
// not depend on the object's size. It stays bound to ctx: cancelling ctx
// aborts it. A connection the store or a proxy cuts mid-stream (a server's
// write deadline, a restart, a reset) is resumed where it broke, with a
// ranged GET of the same version (If-Match on its ETag), up to
// maxResumes times in a row without progress; a Read that still fails, or
// finds the object changed, returns EUNAVAILABLE. The caller must Close
// the stream.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	body, oi, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("open %q: %w", key, translate(ctx, err, key))
	}
	return &objectReader{ctx: ctx, store: s, body: body, key: key, etag: oi.ETag, size: oi.Size}, objectInfo(oi), nil
}

// maxResumes bounds how often in a row a stream is resumed without
// reading a byte in between.
const maxResumes = 3

// objectReader translates the errors of a streaming object body, and
// resumes a body cut off before its end.
type objectReader struct {
	ctx     context.Context
	store   *Store
	body    io.ReadCloser
	key     string
	etag    string
	size    int64
	offset  int64 // bytes delivered so far
	resumes int   // resumptions since the last byte read
}

func (r *objectReader) Read(p []byte) (int, error) {
	for {
		n, err := r.body.Read(p)
		r.offset += int64(n)
		if n > 0 {
			r.resumes = 0
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		if n > 0 || !r.resume(err) {
			if n > 0 {
				return n, nil // the error comes back on the next Read, or the stream resumes
			}
			return 0, fmt.Errorf("read %q: %w", r.key, translate(r.ctx, err, r.key))
		}
	}
}

// resume reopens the stream at the current offset after the read error
// cause, when the error is the connection's and the object is unchanged.
func (r *objectReader) resume(cause error) bool {
	if r.ctx.Err() != nil || r.offset >= r.size || r.resumes >= maxResumes || protostar.ErrorCode(translate(r.ctx, cause, r.key)) != protostar.EUNAVAILABLE {
		return false
	}
	r.resumes++
	opts := minio.GetObjectOptions{}
	if err := opts.SetMatchETag(r.etag); err != nil {
		return false
	}
	if err := opts.SetRange(r.offset, 0); err != nil {
		return false
	}
	body, _, _, err := minio.Core{Client: r.store.client}.GetObject(r.ctx, r.store.bucket, r.key, opts)
	if err != nil {
		r.store.logger.Warn("object stream cut and not resumable", "key", r.key, "offset", r.offset, "cause", cause, "error", err)
		return false
	}
	_ = r.body.Close()
	r.body = body
	r.store.logger.Info("object stream resumed", "key", r.key, "offset", r.offset, "cause", cause)
	return true
}

func (r *objectReader) Close() error { return r.body.Close() }

// Stat returns the object's info with its x-amz-meta-* headers, or
// ENOTFOUND when key does not exist.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %q: %w", key, translate(ctx, err, key))
	}
	info := objectInfo(oi)
	for k, v := range oi.UserMetadata {
		if info.Metadata == nil {
			info.Metadata = map[string]string{}
		}
		info.Metadata[strings.ToLower(k)] = v
	}
	return info, nil
}

// Put stores exactly size bytes read from r at key, replacing any object
// there; an empty contentType means application/octet-stream. The upload
// streams with memory bounded by one part (16 MiB); objects up to one part
// go in a single PUT. A failed upload leaves no partial object behind.
//
// size must be the exact length of r. It is rejected (EINVALID) when
// negative: minio-go would accept -1 as "unknown", but then it sizes its
// parts for the 5 TiB maximum object and allocates a ~537 MiB buffer per
// upload, which breaks the bounded-memory promise. If r ends early or holds
// more than size bytes, Put fails with EINVALID and stores nothing; other
// errors from r are returned as they are, never as a store failure.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (ObjectInfo, error) {
	if size < 0 {
		return ObjectInfo{}, fmt.Errorf("put %q: %w", key,
			protostar.Errorf(protostar.EINVALID, "object size must be known (got %d)", size))
	}
	// An upload may arrive before the start-up check created the bucket.
	if !s.ready.Load() {
		if err := s.EnsureBucket(ctx); err != nil {
			return ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
		}
	}
	contentType = cmp.Or(contentType, "application/octet-stream")
	src := &sizedReader{r: r, size: size, left: size}
	if size == 0 {
		// minio-go does not read the body of an empty object; check here
		// that the source really is empty.
		if err := src.checkEnd(); err != io.EOF {
			return ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
		}
	}
	info, err := s.client.PutObject(ctx, s.bucket, key, src, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		if serr := src.failure(); serr != nil {
			return ObjectInfo{}, fmt.Errorf("put %q: %w", key, serr)
		}
		return ObjectInfo{}, fmt.Errorf("put %q: %w", key, translate(ctx, err, key))
	}
	return ObjectInfo{Key: key, Size: info.Size, ETag: info.ETag, ContentType: contentType}, nil
}

// streamPartSize is the part PutStream buffers at a time: S3's smallest
// multipart part, so an upload of unknown size holds 5 MiB of memory and
// no temporary file.
const streamPartSize = 5 << 20

// PutStream stores r, of unknown length up to maxBytes, at key, reading it
// once, in parts of streamPartSize. More than maxBytes fails with
// ETOOLARGE, a failing source with its own error, and nothing is stored.
func (s *Store) PutStream(ctx context.Context, key string, r io.Reader, maxBytes int64, contentType string) (ObjectInfo, error) {
	if !s.ready.Load() {
		if err := s.EnsureBucket(ctx); err != nil {
			return ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
		}
	}
	contentType = cmp.Or(contentType, "application/octet-stream")
	src := &sizedReader{r: r, size: maxBytes, left: maxBytes, atMost: true}
	info, err := s.client.PutObject(ctx, s.bucket, key, src, -1, minio.PutObjectOptions{ContentType: contentType, PartSize: streamPartSize})
	if serr := src.failure(); serr != nil {
		if err == nil { // minio-go finished before it read the excess
			_ = s.Delete(context.WithoutCancel(ctx), key)
		}
		var pe *protostar.Error
		if !errors.As(serr, &pe) { // the caller's source broke: not a store failure
			serr = protostar.Wrap(protostar.EINVALID, serr, "reading the upload failed")
		}
		return ObjectInfo{}, fmt.Errorf("put %q: %w", key, serr)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("put %q: %w", key, translate(ctx, err, key))
	}
	return ObjectInfo{Key: key, Size: info.Size, ETag: info.ETag, ContentType: contentType}, nil
}

// sizedReader passes the caller's reader to minio-go, checks that it holds
// exactly size bytes, and records the first failure of the source, so Put
// can tell a broken or mis-sized source (the caller's problem) from a
// failing store. minio-go may read it from an HTTP transport goroutine.
type sizedReader struct {
	r      io.Reader
	size   int64
	atMost bool // size is a limit, not the exact length (PutStream)
	// left and ended are only touched by Read, which is never called
	// concurrently.
	left  int64
	ended bool

	mu  sync.Mutex
	err error
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if err := s.failure(); err != nil {
		return 0, err
	}
	if s.left == 0 {
		return 0, s.checkEnd()
	}
	p = p[:min(int64(len(p)), s.left)]
	n, err := s.r.Read(p)
	s.left -= int64(n)
	switch {
	case err == io.EOF && s.left > 0 && s.atMost:
		return n, io.EOF
	case err == io.EOF && s.left > 0:
		return n, s.fail(protostar.Errorf(protostar.EINVALID,
			"source ended after %d of the %d bytes announced", s.size-s.left, s.size))
	case err != nil && err != io.EOF:
		return n, s.fail(fmt.Errorf("read source: %w", err))
	case s.left == 0:
		// Check now, before minio-go completes a truncated upload.
		return n, s.checkEnd()
	}
	return n, nil
}

// checkEnd reports io.EOF if the source ends after the announced size, and
// fails otherwise.
func (s *sizedReader) checkEnd() error {
	if s.ended {
		return io.EOF
	}
	s.ended = true
	var one [1]byte
	switch n, err := io.ReadFull(s.r, one[:]); {
	case n > 0 && s.atMost:
		return s.fail(protostar.Errorf(protostar.ETOOLARGE, "file is larger than the %d-byte limit", s.size))
	case n > 0:
		return s.fail(protostar.Errorf(protostar.EINVALID, "source holds more than the %d bytes announced", s.size))
	case err != io.EOF:
		return s.fail(fmt.Errorf("read source: %w", err))
	}
	return io.EOF
}

func (s *sizedReader) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
	return s.err
}

func (s *sizedReader) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Copy copies the object at src to dst on the server side (objects up to
// 5 GiB, well above the upload limit). A non-empty mark is stored on the
// copy as its x-amz-meta-protostar-written-by header (MarkHeader), so a
// bucket notification of the copy is known as protostar's own write.
func (s *Store) Copy(ctx context.Context, src, dst, mark string) error {
	dest := minio.CopyDestOptions{Bucket: s.bucket, Object: dst}
	if mark != "" {
		dest.ReplaceMetadata, dest.UserMetadata = true, map[string]string{MarkHeader: mark}
	}
	_, err := s.client.CopyObject(ctx, dest, minio.CopySrcOptions{Bucket: s.bucket, Object: src})
	if err != nil {
		return fmt.Errorf("copy %q to %q: %w", src, dst, translate(ctx, err, src))
	}
	return nil
}

// MarkHeader is the user metadata (x-amz-meta-…) name of Copy's mark.
const MarkHeader = "protostar-written-by"

// List returns the objects under prefix in key order, after startAfter,
// reading the listing page by page (ListObjectsV2) as the caller iterates.
func (s *Store) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // ends minio-go's listing goroutine when the caller stops early
		for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, StartAfter: startAfter,
			Recursive: true}) {
			if oi.Err != nil {
				yield(ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, translate(ctx, oi.Err, "")))
				return
			}
			if !yield(objectInfo(oi), nil) {
				return
			}
		}
	}
}

// Delete removes the object at key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && s3Code(err) != minio.NoSuchKey {
		return fmt.Errorf("delete %q: %w", key, translate(ctx, err, key))
	}
	return nil
}

// s3Code returns the S3 error code in err's chain, or "".
func s3Code(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}
