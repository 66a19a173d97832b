package httpapi

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/protostar/protostar"
)

// TenantHeader names the tenant a platform key acts for, as Stripe
// Connect's Stripe-Account does.
const TenantHeader = "Protostar-Tenant"

// platformTenant in PROTOSTAR_API_KEYS ("*:key") makes a platform key.
const platformTenant = "*"

// principal is who a request authenticated as.
type principal struct {
	tenant   string // the key's own tenant; "" for a platform key
	platform bool
	keyID    string // a stored key's id; "" for a PROTOSTAR_API_KEYS key
}

type principalKey struct{}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// KeyLookup resolves stored keys and run-time tenants.
type KeyLookup interface {
	KeyByHash(ctx context.Context, hash []byte) (protostar.APIKey, error)
	TenantActive(ctx context.Context, id string) (bool, error)
}

// principal resolves a bearer key: a PROTOSTAR_API_KEYS key, else a key
// stored in Postgres (looked up through a short cache, so a revocation
// takes effect on every replica within lookupTTL).
func (s *Server) principal(ctx context.Context, key string) (principal, error) {
	if tenant, ok := s.keys.tenant(key); ok {
		if tenant == platformTenant {
			return principal{platform: true}, nil
		}
		return principal{tenant: tenant}, nil
	}
	unknown := protostar.Errorf(protostar.EUNAUTHORIZED, "unknown API key")
	if s.deps.Lookup == nil || !protostar.IsStoredKey(key) {
		return principal{}, unknown
	}
	k, err := s.lookups.key(ctx, s.deps.Lookup, key)
	switch {
	case protostar.ErrorCode(err) == protostar.ENOTFOUND:
		return principal{}, unknown
	case err != nil:
		return principal{}, err
	case k.RevokedAt != nil:
		return principal{}, protostar.Errorf(protostar.EUNAUTHORIZED, "API key revoked")
	case !k.Usable(time.Now()):
		return principal{}, protostar.Errorf(protostar.EUNAUTHORIZED, "API key expired")
	}
	return principal{tenant: k.TenantID, platform: k.Platform, keyID: k.ID}, nil
}

// Route scopes: who may call a /v1 route.
const (
	scopeTenant   = iota // acts for one tenant
	scopePlatform        // platform keys only (tenants, embedding spaces)
	scopeEither          // a tenant key for its tenant, a platform key for a named tenant or for the platform
)

func routeScope(path string) int {
	switch {
	case path == "/v1/tenants" || strings.HasPrefix(path, "/v1/tenants/"),
		path == "/v1/embedding-spaces" || strings.HasPrefix(path, "/v1/embedding-spaces/"):
		return scopePlatform
	case path == "/v1/keys" || strings.HasPrefix(path, "/v1/keys/"),
		path == "/v1/jobs" || strings.HasPrefix(path, "/v1/jobs/"): // the platform's own jobs: tenant deletions
		return scopeEither
	}
	return scopeTenant
}

// actingTenant decides the tenant a request acts for ("" for the platform
// itself): a tenant key's own, or the one a platform key names in the
// Protostar-Tenant header, which must exist.
func (s *Server) actingTenant(r *http.Request, p principal) (string, error) {
	named := r.Header.Get(TenantHeader)
	scope := routeScope(r.URL.Path)
	switch {
	case scope == scopePlatform && !p.platform:
		return "", protostar.Errorf(protostar.EFORBIDDEN, "only a platform key may manage tenants and embedding spaces")
	case !p.platform && named != "":
		return "", protostar.Errorf(protostar.EFORBIDDEN, "the %s header is for platform keys; this key acts only for its own tenant", TenantHeader)
	case !p.platform:
		return p.tenant, nil
	case scope == scopePlatform:
		return "", nil
	case named == "" && scope == scopeEither:
		return "", nil
	case named == "":
		return "", protostar.Errorf(protostar.EINVALID, "a platform key must name the tenant it acts for in the %s header", TenantHeader)
	}
	if err := protostar.ValidTenant(named); err != nil {
		return "", err
	}
	if s.envTenants[named] {
		return named, nil
	}
	ok, err := s.lookups.tenant(r.Context(), s.deps.Lookup, named)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", protostar.Errorf(protostar.ENOTFOUND, "tenant %q not found", named)
	}
	return named, nil
}

// lookupTTL bounds how long a key or tenant lookup is reused: a revoked
// key fails on every replica within it. While Postgres does not answer, a
// lookup up to lookupStale old is used instead of failing every request.
const (
	lookupTTL   = 2 * time.Second
	lookupStale = time.Minute
	lookupMax   = 10000 // entries before the cache starts over
)

// lookups caches key and tenant lookups by a digest of what was looked up.
type lookups struct {
	mu sync.Mutex
	m  map[[32]byte]lookup
}

type lookup struct {
	at     time.Time
	key    protostar.APIKey
	active bool
	err    error // ENOTFOUND is cached too, so unknown keys cost one query per TTL
}

func (l *lookups) get(ctx context.Context, id [32]byte, load func(context.Context) lookup) lookup {
	l.mu.Lock()
	c, ok := l.m[id]
	l.mu.Unlock()
	if ok && time.Since(c.at) < lookupTTL {
		return c
	}
	fresh := load(ctx)
	if fresh.err != nil && protostar.ErrorCode(fresh.err) != protostar.ENOTFOUND {
		if ok && c.err == nil && time.Since(c.at) < lookupStale {
			return c // Postgres is down: keep serving what it said a moment ago
		}
		return fresh
	}
	fresh.at = time.Now()
	l.mu.Lock()
	if l.m == nil || len(l.m) >= lookupMax {
		l.m = map[[32]byte]lookup{}
	}
	l.m[id] = fresh
	l.mu.Unlock()
	return fresh
}

func (l *lookups) key(ctx context.Context, src KeyLookup, key string) (protostar.APIKey, error) {
	c := l.get(ctx, sha256.Sum256([]byte("key\x00"+key)), func(ctx context.Context) lookup {
		k, err := src.KeyByHash(ctx, protostar.HashAPIKey(key))
		return lookup{key: k, err: err}
	})
	return c.key, c.err
}

func (l *lookups) tenant(ctx context.Context, src KeyLookup, id string) (bool, error) {
	if src == nil {
		return false, nil
	}
	c := l.get(ctx, sha256.Sum256([]byte("tenant\x00"+id)), func(ctx context.Context) lookup {
		ok, err := src.TenantActive(ctx, id)
		return lookup{active: ok, err: err}
	})
	return c.active, c.err
}
