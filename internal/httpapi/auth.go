package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/protostar/protostar"
)

type tenantKey struct{}

// TenantFrom returns the authenticated tenant of a request context.
func TenantFrom(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

// keyring resolves API keys to tenants in constant time: every configured
// key is compared (as a SHA-256 digest, so lengths match) on every request.
type keyring struct {
	digests [][32]byte
	tenants []string
}

func newKeyring(keys map[string]string) *keyring {
	k := &keyring{}
	for key, tenant := range keys {
		k.digests = append(k.digests, sha256.Sum256([]byte(key)))
		k.tenants = append(k.tenants, tenant)
	}
	return k
}

// tenantOf finds the tenant of the key whose SHA-256 is hash.
func (k *keyring) tenantOf(hash []byte) (string, bool) {
	found := -1
	for i := range k.digests {
		if subtle.ConstantTimeCompare(hash, k.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return k.tenants[found], true
}

// authenticate requires a valid bearer key, decides the tenant the
// request acts for and puts it in the request context; it also applies the
// per-key rate limit.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 9110 §11.1); the key is not.
		scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="protostar"`)
			writeDomainProblem(w, protostar.Errorf(protostar.EUNAUTHORIZED, "missing bearer API key in the Authorization header"))
			return
		}
		p, err := s.principal(r.Context(), key)
		if err != nil {
			if protostar.ErrorCode(err) == protostar.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="protostar", error="invalid_token"`)
			}
			writeDomainProblem(w, err)
			return
		}
		tenant, err := s.actingTenant(r, p)
		if err != nil {
			writeDomainProblem(w, err)
			return
		}
		if wait, what := s.limits.allow(r.Context(), tenant, p.KeyHash); what != "" {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
			writeDomainProblem(w, protostar.Errorf(protostar.ERATELIMITED, "rate limit exceeded for this %s", what))
			return
		}
		ctx := context.WithValue(r.Context(), tenantKey{}, tenant)
		ctx = context.WithValue(ctx, principalKey{}, p)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
