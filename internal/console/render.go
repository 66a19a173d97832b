package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/protostar/protostar/internal/httpapi"
)

// pageNames are the templates/*.html files that are whole pages; each
// defines "title" and "content" and is rendered inside layout.html.
var pageNames = []string{"signin", "tenants", "error", "overview", "documents", "document", "jobs", "search", "webhooks"}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse console template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is what every template gets: the request's language, session and
// tenant, the page's own data, and a message to show once.
type page struct {
	Lang      string
	Path      string // the request's path and query, for the language switch
	Nav       string
	CSRF      string
	SignedIn  bool
	Tenant    string
	Platform  bool
	Tenants   []string
	Flash     string
	Data      any
	Languages []string
}

// T translates a message id into the page's language.
func (p page) T(id string) string { return translate(p.Lang, id) }

// Status translates a document or job status.
func (p page) Status(s string) string { return translate(p.Lang, "status."+s) }

// render writes page name with data inside the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, rq *request, status int, name string, data any) {
	p := c.pageOf(r, rq, name, data)
	c.write(w, status, func(b *bytes.Buffer) error { return c.pages[name].ExecuteTemplate(b, "layout", p) })
}

// fragment writes one template of page name alone (an htmx swap).
func (c *Console) fragment(w http.ResponseWriter, r *http.Request, rq *request, name, tmpl string, data any) {
	p := c.pageOf(r, rq, name, data)
	c.write(w, http.StatusOK, func(b *bytes.Buffer) error { return c.pages[name].ExecuteTemplate(b, tmpl, p) })
}

func (c *Console) pageOf(r *http.Request, rq *request, name string, data any) page {
	p := page{Lang: rq.lang, Path: r.URL.RequestURI(), Nav: name, CSRF: rq.session.CSRFToken, SignedIn: rq.session.TokenHash != nil,
		Tenant: rq.tenant, Platform: rq.principal.Platform, Data: data, Languages: languages}
	if msg := r.URL.Query().Get("done"); msg != "" {
		if _, ok := catalogue["en"][msg]; ok {
			p.Flash = translate(rq.lang, msg)
		}
	}
	if p.Platform && p.SignedIn {
		p.Tenants, _ = c.tenantList(r.Context(), rq)
	}
	return p
}

// write renders into a buffer first, so a template error is a clean 500.
func (c *Console) write(w http.ResponseWriter, status int, exec func(*bytes.Buffer) error) {
	var b bytes.Buffer
	if err := exec(&b); err != nil {
		c.logger.Error("render console page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = b.WriteTo(w)
}

// fail shows err: its status and client-safe message come from the API's
// one mapping; 5xx causes are logged. htmx requests get a short fragment,
// which console.js shows as an alert.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	status, detail := httpapi.ProblemOf(err)
	if status >= 500 && !errors.Is(err, context.Canceled) {
		c.logger.ErrorContext(r.Context(), "console request failed", "status", status, "path", r.URL.Path, "error", err)
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(detail))
		return
	}
	c.render(w, r, rq, status, "error", struct {
		Status int
		Title  string
		Detail string
	}{status, http.StatusText(status), detail})
}

// redirect answers a form post with 303 to target, showing message done.
func redirect(w http.ResponseWriter, r *http.Request, target, done string) {
	if done != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

var funcs = template.FuncMap{
	"ago":       ago,
	"when":      when,
	"took":      took,
	"bytes":     byteSize,
	"join":      func(s []string, sep string) string { return strings.Join(s, sep) },
	"json":      prettyJSON,
	"highlight": highlight,
	"score":     func(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) },
	"add":       func(a, b int) int { return a + b },
	"list":      func(s ...string) []string { return s },
	// pair hands a sub-template the page (for translations) and a value.
	"pair":  func(p page, v any) pagePair { return pagePair{p, v} },
	"query": func(k, v string) template.URL { return template.URL(url.QueryEscape(k) + "=" + url.QueryEscape(v)) },
}

// pagePair is a page and one value of it, for a sub-template.
type pagePair struct {
	P page
	V any
}

// ago is how long before now t was, in its largest unit.
func ago(t time.Time) string { return roughly(time.Since(t)) }

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// when formats a time (UTC) for a table cell; a nil one is "—".
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05")
	case *time.Time:
		if v != nil {
			return v.UTC().Format("2006-01-02 15:04:05")
		}
	}
	return "—"
}

// took is the time from start to end (or now while running).
func took(start, end *time.Time) string {
	if start == nil {
		return "—"
	}
	stop := time.Now()
	if end != nil {
		stop = *end
	}
	d := stop.Sub(*start)
	if d < time.Second {
		return strconv.Itoa(int(d.Milliseconds())) + "ms"
	}
	return d.Round(100 * time.Millisecond).String()
}

func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if len(raw) == 0 || json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}
