package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/httpapi"
)

// Cookies. The session cookie holds a random token whose SHA-256 is the
// session's key in Postgres; the pre-session cookie carries the sign-in
// form's CSRF token (double submit).
const (
	sessionCookie = "protostar_console"
	preCookie     = "protostar_console_pre"
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "_csrf"
)

// request is a signed-in request: its session, the principal its key
// resolves to now, the tenant it acts for and its language.
type request struct {
	session   protostar.ConsoleSession
	principal httpapi.Principal
	tenant    string
	lang      string
}

// Whether a route needs a chosen tenant (a platform key chooses one first).
const (
	anyTenant  = false
	needTenant = true
)

type handler func(w http.ResponseWriter, r *http.Request, rq *request)

// session resolves the session cookie and checks its key again (revoked,
// expired, removed: the session ends), refuses a state-changing request
// without the session's CSRF token (403), applies the key's and tenant's
// rate limits (429), and, for a platform key that has not chosen a tenant
// yet, shows the tenant chooser instead of next.
func (c *Console) session(next handler, tenantNeeded bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		rq := &request{lang: language(r)}
		ck, err := r.Cookie(sessionCookie)
		if err != nil || ck.Value == "" {
			c.toSignIn(w, r, "")
			return
		}
		hash := tokenHash(ck.Value)
		if rq.session, err = c.deps.Store.Session(r.Context(), hash); err != nil {
			c.sessionFailed(w, r, rq, hash, err)
			return
		}
		s := rq.session
		rq.principal, err = c.deps.Auth.Recheck(r.Context(), httpapi.Principal{Tenant: s.KeyTenant, Platform: s.Platform,
			KeyID: s.KeyID, KeyHash: s.KeyHash})
		if err != nil {
			c.sessionFailed(w, r, rq, hash, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !validCSRF(r, s.CSRFToken) {
			c.fail(w, r, rq, protostar.Errorf(protostar.EFORBIDDEN, "the request has no valid CSRF token; reload the page and try again"))
			return
		}
		if s.TenantID != "" || !s.Platform {
			if rq.tenant, err = c.deps.Auth.ActFor(r.Context(), rq.principal, s.TenantID); err != nil {
				if protostar.ErrorCode(err) != protostar.ENOTFOUND {
					c.fail(w, r, rq, err)
					return
				}
				rq.tenant = "" // the tenant was deleted: choose another
			}
		}
		if err := c.deps.Auth.Allow(r.Context(), rq.tenant, rq.principal); err != nil {
			c.fail(w, r, rq, err)
			return
		}
		if tenantNeeded && rq.tenant == "" {
			c.chooseTenant(w, r, rq)
			return
		}
		next(w, r, rq)
	})
}

// sessionFailed ends a session whose key no longer signs in, and sends
// the browser to the sign-in page; other errors (Postgres down) are shown.
func (c *Console) sessionFailed(w http.ResponseWriter, r *http.Request, rq *request, hash []byte, err error) {
	if protostar.ErrorCode(err) != protostar.EUNAUTHORIZED {
		c.fail(w, r, rq, err)
		return
	}
	if derr := c.deps.Store.DeleteSession(context.WithoutCancel(r.Context()), hash); derr != nil {
		c.logger.Warn("could not delete an ended console session", "error", derr)
	}
	clearCookie(w, r, sessionCookie)
	c.toSignIn(w, r, protostar.ErrorMessage(err))
}

// toSignIn redirects to the sign-in page; htmx requests are told to load
// it as a whole page.
func (c *Console) toSignIn(w http.ResponseWriter, r *http.Request, why string) {
	target := "/console/signin"
	if why != "" {
		target += "?why=" + url.QueryEscape(why)
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.renderSignIn(w, r, http.StatusOK, r.URL.Query().Get("why"))
}

func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, message string) {
	w.Header().Set("Cache-Control", "no-store")
	token := randomToken()
	c.setCookie(w, r, preCookie, token, 30*time.Minute)
	rq := &request{lang: language(r), session: protostar.ConsoleSession{CSRFToken: token}}
	if r.URL.Query().Get("out") == "1" && message == "" {
		message = translate(rq.lang, "signed.out")
	}
	c.render(w, r, rq, status, "signin", struct{ Message string }{message})
}

// signin checks the key with the API's logic and starts a session that
// keeps only hashes: the key is not stored, in the browser or here.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	pre, err := r.Cookie(preCookie)
	if err != nil || !validCSRF(r, pre.Value) {
		rq := &request{lang: language(r)}
		c.fail(w, r, rq, protostar.Errorf(protostar.EFORBIDDEN, "the sign-in form has no valid CSRF token; reload the page and try again"))
		return
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	p, err := c.deps.Auth.Authenticate(r.Context(), key)
	if err != nil {
		if protostar.ErrorCode(err) == protostar.EUNAUTHORIZED {
			c.renderSignIn(w, r, http.StatusUnauthorized, protostar.ErrorMessage(err))
			return
		}
		c.fail(w, r, &request{lang: language(r)}, err)
		return
	}
	token := randomToken()
	s := protostar.ConsoleSession{TokenHash: tokenHash(token), KeyHash: p.KeyHash, KeyID: p.KeyID, KeyTenant: p.Tenant,
		Platform: p.Platform, TenantID: p.Tenant, CSRFToken: randomToken(), ExpiresAt: time.Now().Add(c.cfg.SessionTTL)}
	if err := c.deps.Store.CreateSession(r.Context(), s); err != nil {
		c.fail(w, r, &request{lang: language(r)}, err)
		return
	}
	clearCookie(w, r, preCookie)
	c.setCookie(w, r, sessionCookie, token, c.cfg.SessionTTL)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := c.deps.Store.DeleteSession(r.Context(), rq.session.TokenHash); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/console/signin?out=1", http.StatusSeeOther)
}

// switchTenant makes a platform key's session act for another tenant.
func (c *Console) switchTenant(w http.ResponseWriter, r *http.Request, rq *request) {
	tenant, err := c.deps.Auth.ActFor(r.Context(), rq.principal, r.PostFormValue("tenant"))
	if err == nil {
		err = c.deps.Store.SetSessionTenant(r.Context(), rq.session.TokenHash, tenant)
	}
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// chooseTenant lists the tenants a platform key may act for.
func (c *Console) chooseTenant(w http.ResponseWriter, r *http.Request, rq *request) {
	tenants, err := c.tenantList(r.Context(), rq)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, rq, http.StatusOK, "tenants", struct{ Tenants []string }{tenants})
}

// tenantList is what the tenant switch offers: a platform key's tenants
// (those of PROTOSTAR_API_KEYS and the live run-time ones); a tenant key's
// own.
func (c *Console) tenantList(ctx context.Context, rq *request) ([]string, error) {
	if !rq.principal.Platform {
		return []string{rq.tenant}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range c.cfg.EnvTenants {
		if t != "*" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if c.deps.Tenants != nil {
		ts, err := c.deps.Tenants.Tenants(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.DeletedAt == nil && !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t.ID)
			}
		}
	}
	return out, nil
}

// setLanguage remembers the language chosen with the switch and goes back
// to the page it was chosen on (a console path only).
func (c *Console) setLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if !known(lang) {
		http.NotFound(w, r)
		return
	}
	c.setCookie(w, r, langCookie, lang, 365*24*time.Hour)
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		next = "/console/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, scoped to
// /console, Secure when the request came over TLS.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/console", MaxAge: int(ttl.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/console", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
