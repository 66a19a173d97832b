package client

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"

	"github.com/protostar/protostar"
)

// Submission is the API's answer to a document submission: the document
// (new, or a new version of an existing key) and its ingest job.
type Submission struct {
	Document protostar.Document `json:"document"`
	Job      protostar.Job      `json:"job"`
}

// DocumentPage is one page of a document listing, newest first.
type DocumentPage struct {
	Documents  []protostar.Document `json:"documents"`
	NextCursor string               `json:"next_cursor,omitempty"` // empty on the last page
}

// UploadFile uploads the file at path under key, opening it again for each
// attempt.
func (c *Client) UploadFile(ctx context.Context, key, path string) (Submission, error) {
	return c.upload(ctx, func() (io.ReadCloser, string, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", err
		}
		return multipartBody(key, f.Name(), f)
	})
}

func (c *Client) upload(ctx context.Context, body func() (io.ReadCloser, string, error)) (Submission, error) {
	var s Submission
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/documents", body: body}, &s)
	return s, err
}

// multipartBody streams a multipart form with a key field and a file part
// through a pipe. The copying goroutine ends when content is sent or the
// HTTP transport closes the pipe (it always closes request bodies).
func multipartBody(key, name string, content io.ReadCloser) (io.ReadCloser, string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		defer content.Close()
		err := writeForm(mw, key, name, content)
		pw.CloseWithError(err) // nil closes with io.EOF
	}()
	return pr, mw.FormDataContentType(), nil
}

func writeForm(mw *multipart.Writer, key, name string, content io.Reader) error {
	if err := mw.WriteField("key", key); err != nil {
		return err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", multipart.FileContentDisposition("file", baseName(name)))
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, content); err != nil {
		return fmt.Errorf("read upload content: %w", err)
	}
	return mw.Close()
}

// baseName returns the last element of a slash- or OS-separated path.
func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' || os.IsPathSeparator(p[i]) {
			return p[i+1:]
		}
	}
	return p
}

// Documents returns one page of the tenant's documents that match f
// (status, exact key, page size and the previous page's cursor).
func (c *Client) Documents(ctx context.Context, f protostar.DocumentFilter) (DocumentPage, error) {
	q := url.Values{}
	setQuery(q, "status", f.Status)
	setQuery(q, "key", f.Key)
	setQuery(q, "cursor", f.Cursor)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var p DocumentPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/documents", query: q}, &p)
	return p, err
}

func setQuery(q url.Values, name, value string) {
	if value != "" {
		q.Set(name, value)
	}
}
