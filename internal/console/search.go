package console

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/answer"
	"github.com/protostar/protostar/internal/httpapi"
)

type searchData struct {
	Query, Mode, Prefix, Meta string
	TopK                      int
	Ran                       bool
	Hits                      []protostar.SearchHit
	Question                  string
}

// search is the playground: the query runs with "explain", so each hit
// shows its vector and keyword ranks, its fused score and the query's
// terms it matched, highlighted in its text.
func (c *Console) search(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	d := searchData{Query: q.Get("q"), Mode: q.Get("mode"), Prefix: q.Get("prefix"), Meta: q.Get("meta"), TopK: 10, Question: q.Get("question")}
	if d.Mode == "" {
		d.Mode = protostar.SearchHybrid
	}
	if k := q.Get("top_k"); k != "" {
		var err error
		if d.TopK, err = strconv.Atoi(k); err != nil {
			c.fail(w, r, rq, protostar.Errorf(protostar.EINVALID, "top_k must be a number"))
			return
		}
	}
	if d.Query != "" {
		f, err := filterOf(d.Prefix, d.Meta)
		if err == nil {
			var res protostar.SearchResult
			res, err = c.deps.Search.Search(r.Context(), protostar.SearchQuery{TenantID: rq.tenant, Query: d.Query,
				TopK: d.TopK, Mode: d.Mode, Filter: f, Explain: true})
			d.Hits = res.Hits
		}
		if err != nil {
			c.fail(w, r, rq, err)
			return
		}
		d.Ran = true
	}
	c.render(w, r, rq, http.StatusOK, "search", d)
}

func filterOf(prefix, meta string) (protostar.SearchFilter, error) {
	f := protostar.SearchFilter{KeyPrefix: prefix}
	if err := protostar.ValidKeyPrefix(prefix); err != nil {
		return f, err
	}
	m, err := parseMetadata(meta)
	if len(m) > 0 {
		f.Metadata = m
	}
	return f, err
}

// ask answers the fragment that opens the answer's stream (askStream).
func (c *Console) ask(w http.ResponseWriter, r *http.Request, rq *request) {
	question := r.URL.Query().Get("question")
	if question == "" {
		c.fail(w, r, rq, protostar.Errorf(protostar.EINVALID, "question must not be empty"))
		return
	}
	c.fragment(w, r, rq, "search", "answer", searchData{Question: question, Prefix: r.URL.Query().Get("prefix")})
}

// askStreamWait is how long the stream stays open after its last event,
// so that the browser closes it (sse-close) rather than the server, which
// EventSource would take for a lost connection and reconnect.
const askStreamWait = 10 * time.Second

// askStream streams an answer as server-sent events of HTML: "delta"
// (answer text), "citation" (a source linked to its chunk), "done", or
// "failure" with the reason.
func (c *Console) askStream(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	f, err := filterOf(q.Get("prefix"), "")
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	req := answer.Request{TenantID: rq.tenant, Question: q.Get("question"), TopK: 5, Filter: f}
	c.stream(w, r, rq, func(ctx context.Context, ev *eventWriter) { c.streamAnswer(ctx, r, rq, ev, req) })
}

// streamAnswer writes the answer's events.
func (c *Console) streamAnswer(ctx context.Context, r *http.Request, rq *request, ev *eventWriter, req answer.Request) {
	_ = ev.comment("answering")
	res, err := c.deps.Answers.Answer(ctx, req,
		func(delta string) error { return ev.send("delta", template.HTMLEscapeString(delta)) })
	if err != nil {
		if ctx.Err() == nil {
			status, _ := httpapi.ProblemOf(err)
			if status >= 500 {
				c.logger.ErrorContext(ctx, "console answer failed", "error", err)
			}
			_ = ev.send("failure", `<p class="alert" role="alert">`+template.HTMLEscapeString(protostar.ErrorMessage(err))+`</p>`)
			c.linger(ctx)
		}
		return
	}
	p := c.pageOf(r, rq, "search", nil)
	for _, cit := range res.Citations {
		var b bytes.Buffer
		if err := c.pages["search"].ExecuteTemplate(&b, "citation", struct {
			page
			C protostar.Citation
		}{p, cit}); err != nil {
			c.logger.Error("render citation", "error", err)
			return
		}
		if ev.send("citation", b.String()) != nil {
			return
		}
	}
	_ = ev.send("done", "")
	c.linger(ctx)
}

func (c *Console) linger(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(askStreamWait):
	}
}
