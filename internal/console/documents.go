package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/protostar/protostar"
)

// Page sizes.
const (
	documentsPerPage = 25
	chunksPerPage    = 30
	jobsPerDocument  = 20
)

type documentsData struct {
	Status, Prefix, Meta string
	Documents            []protostar.Document
	Next, Cursor         string
	// The first page refreshes itself, faster while Live: some documents
	// are pending or indexing.
	Live  bool
	Query string
}

// documents lists the tenant's documents, filtered and paged on the
// server; an htmx refresh gets the table alone.
func (c *Console) documents(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	d := documentsData{Status: q.Get("status"), Prefix: q.Get("prefix"), Meta: q.Get("meta"), Cursor: q.Get("cursor"), Query: r.URL.RawQuery}
	f := protostar.DocumentFilter{Status: d.Status, KeyPrefix: d.Prefix, Limit: documentsPerPage, Cursor: d.Cursor}
	var err error
	if f.Metadata, err = parseMetadata(d.Meta); err == nil {
		err = validStatus(d.Status)
	}
	if err == nil {
		err = protostar.ValidKeyPrefix(d.Prefix)
	}
	if err == nil {
		d.Documents, d.Next, err = c.deps.Store.Documents(r.Context(), rq.tenant, f)
	}
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	for _, doc := range d.Documents {
		if doc.Status == protostar.DocumentPending || doc.Status == protostar.DocumentIndexing {
			d.Live = true
		}
	}
	if r.Header.Get("HX-Request") == "true" {
		c.fragment(w, r, rq, "documents", "rows", d)
		return
	}
	c.render(w, r, rq, http.StatusOK, "documents", d)
}

func validStatus(s string) error {
	switch s {
	case "", protostar.DocumentPending, protostar.DocumentIndexing, protostar.DocumentReady, protostar.DocumentFailed:
		return nil
	}
	return protostar.Errorf(protostar.EINVALID, "status must be pending, indexing, ready or failed")
}

// parseMetadata reads the filter "team=infra, lang=ko".
func parseMetadata(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, protostar.Errorf(protostar.EINVALID, "metadata filter must be name=value pairs separated by commas")
		}
		if err := protostar.ValidMetadataKey("metadata filter name", k); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

type documentData struct {
	Doc     protostar.Document
	Summary *protostar.Summary
	Jobs    []protostar.Job
	Chunks  chunksData
	// Live: the document is being indexed or one of its jobs has not
	// ended, so the page refreshes itself.
	Live bool
}

type chunksData struct {
	DocumentID string
	Chunks     []protostar.ChunkView
	Next       int // the ordinal to continue after; -1: no more
}

// document shows one document: its facts, summary, versions (its ingest
// jobs) and other jobs, and its chunks in order.
func (c *Console) document(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx, id := r.Context(), r.PathValue("id")
	doc, err := c.deps.Store.Document(ctx, rq.tenant, id)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := documentData{Doc: doc}
	if sum, err := c.deps.Summaries.Latest(ctx, rq.tenant, id, ""); err == nil {
		d.Summary = &sum
	} else if protostar.ErrorCode(err) != protostar.ENOTFOUND {
		c.fail(w, r, rq, err)
		return
	}
	if d.Jobs, err = c.deps.Store.DocumentJobs(ctx, rq.tenant, id, jobsPerDocument); err == nil {
		d.Chunks, err = c.chunkPage(r, rq, id, -1)
	}
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d.Live = doc.Status == protostar.DocumentPending || doc.Status == protostar.DocumentIndexing
	for _, j := range d.Jobs {
		d.Live = d.Live || !j.Terminal()
	}
	c.render(w, r, rq, http.StatusOK, "document", d)
}

// chunks is the next page of a document's chunks (the "more" button).
func (c *Console) chunks(w http.ResponseWriter, r *http.Request, rq *request) {
	after, err := strconv.Atoi(r.URL.Query().Get("after"))
	if err != nil || after < -1 {
		c.fail(w, r, rq, protostar.Errorf(protostar.EINVALID, "after must be a chunk ordinal"))
		return
	}
	d, err := c.chunkPage(r, rq, r.PathValue("id"), after)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.fragment(w, r, rq, "document", "chunks", documentData{Chunks: d})
}

func (c *Console) chunkPage(r *http.Request, rq *request, id string, after int) (chunksData, error) {
	chunks, err := c.deps.Store.DocumentChunks(r.Context(), rq.tenant, id, after, chunksPerPage+1)
	d := chunksData{DocumentID: id, Chunks: chunks, Next: -1}
	if len(chunks) > chunksPerPage {
		d.Chunks = chunks[:chunksPerPage]
		d.Next = d.Chunks[chunksPerPage-1].Ordinal
	}
	return d, err
}

// reindex re-reads the document's object as a new version, as
// POST /v1/documents/{id}/reindex does.
func (c *Console) reindex(w http.ResponseWriter, r *http.Request, rq *request) {
	_, job, err := c.deps.Store.ReindexDocument(r.Context(), rq.tenant, r.PathValue("id"), c.cfg.JobMaxAttempts, c.cfg.TenantMaxJobs)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.deps.Dispatcher.Dispatch(r.Context(), job)
	redirect(w, r, "/console/documents/"+r.PathValue("id"), "doc.reindexed")
}

func (c *Console) deleteDocument(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := c.deps.Store.DeleteDocument(r.Context(), rq.tenant, r.PathValue("id")); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	redirect(w, r, "/console/documents", "doc.deleted")
}

func (c *Console) summarize(w http.ResponseWriter, r *http.Request, rq *request) {
	length := r.PostFormValue("length")
	if !protostar.ValidSummaryLength(length) {
		c.fail(w, r, rq, protostar.Errorf(protostar.EINVALID, "length must be short, medium or long"))
		return
	}
	_, _, err := c.deps.Summaries.Request(r.Context(), rq.tenant, r.PathValue("id"), length)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	redirect(w, r, "/console/documents/"+r.PathValue("id"), "doc.summarizing")
}
