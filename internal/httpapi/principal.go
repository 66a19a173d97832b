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

// Principal is who a key authenticates as.
type Principal struct {
	Tenant   string // the key's own tenant; "" for a platform key
	Platform bool
	KeyID    string // a stored key's id; "" for a PROTOSTAR_API_KEYS key
	// KeyHash is the key's SHA-256, all that a console session keeps of it
	// to check the key again (Recheck).
	KeyHash []byte
}

type principalKey struct{}

// KeyLookup resolves stored keys and run-time tenants.
type KeyLookup interface {
	KeyByHash(ctx context.Context, hash []byte) (protostar.APIKey, error)
	TenantActive(ctx context.Context, id string) (bool, error)
}

// principal resolves a bearer key: a PROTOSTAR_API_KEYS key, else a key
// stored in Postgres (looked up through a short cache, so a revocation
// takes effect on every replica within lookupTTL).
func (s *Server) principal(ctx context.Context, key string) (Principal, error) {
	return s.principalOf(ctx, protostar.HashAPIKey(key), protostar.IsStoredKey(key))
}

// Authenticate resolves a key as every /v1 request does: EUNAUTHORIZED
// for a missing, unknown, revoked or expired one. The console signs in
// with it.
func (s *Server) Authenticate(ctx context.Context, key string) (Principal, error) {
	if key == "" {
		return Principal{}, protostar.Errorf(protostar.EUNAUTHORIZED, "missing API key")
	}
	return s.principal(ctx, key)
}

// Recheck resolves again the key p was resolved from, by its hash, so a
// key revoked, expired or removed from PROTOSTAR_API_KEYS since (within
// lookupTTL) fails: the console checks its session's key on every request.
func (s *Server) Recheck(ctx context.Context, p Principal) (Principal, error) {
	return s.principalOf(ctx, p.KeyHash, p.KeyID != "")
}

// principalOf resolves a key by its SHA-256: a PROTOSTAR_API_KEYS key,
// else, if stored says the key has the stored form, a key in Postgres.
func (s *Server) principalOf(ctx context.Context, hash []byte, stored bool) (Principal, error) {
	if tenant, ok := s.keys.tenantOf(hash); ok {
		if tenant == platformTenant {
			return Principal{Platform: true, KeyHash: hash}, nil
		}
		return Principal{Tenant: tenant, KeyHash: hash}, nil
	}
	unknown := protostar.Errorf(protostar.EUNAUTHORIZED, "unknown API key")
	if s.deps.Lookup == nil || !stored {
		return Principal{}, unknown
	}
	k, err := s.lookups.key(ctx, s.deps.Lookup, hash)
	switch {
	case protostar.ErrorCode(err) == protostar.ENOTFOUND:
		return Principal{}, unknown
	case err != nil:
		return Principal{}, err
	case k.RevokedAt != nil:
		return Principal{}, protostar.Errorf(protostar.EUNAUTHORIZED, "API key revoked")
	case !k.Usable(time.Now()):
		return Principal{}, protostar.Errorf(protostar.EUNAUTHORIZED, "API key expired")
	}
	return Principal{Tenant: k.TenantID, Platform: k.Platform, KeyID: k.ID, KeyHash: hash}, nil
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
func (s *Server) actingTenant(r *http.Request, p Principal) (string, error) {
	named := r.Header.Get(TenantHeader)
	scope := routeScope(r.URL.Path)
	switch {
	case scope == scopePlatform && !p.Platform:
		return "", protostar.Errorf(protostar.EFORBIDDEN, "only a platform key may manage tenants and embedding spaces")
	case !p.Platform && named != "":
		return "", protostar.Errorf(protostar.EFORBIDDEN, "the %s header is for platform keys; this key acts only for its own tenant", TenantHeader)
	case !p.Platform:
		return p.Tenant, nil
	case scope == scopePlatform:
		return "", nil
	case named == "" && scope == scopeEither:
		return "", nil
	case named == "":
		return "", protostar.Errorf(protostar.EINVALID, "a platform key must name the tenant it acts for in the %s header", TenantHeader)
	}
	return s.ActFor(r.Context(), p, named)
}

// ActFor decides the tenant p acts for when it names named, as the
// Protostar-Tenant header does: a tenant key only for its own tenant
// (EFORBIDDEN otherwise), a platform key for any tenant that exists
// (ENOTFOUND otherwise).
func (s *Server) ActFor(ctx context.Context, p Principal, named string) (string, error) {
	if !p.Platform {
		if named != "" && named != p.Tenant {
			return "", protostar.Errorf(protostar.EFORBIDDEN, "this key acts only for its own tenant")
		}
		return p.Tenant, nil
	}
	if err := protostar.ValidTenant(named); err != nil {
		return "", err
	}
	if s.envTenants[named] {
		return named, nil
	}
	ok, err := s.lookups.tenant(ctx, s.deps.Lookup, named)
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

func (l *lookups) key(ctx context.Context, src KeyLookup, hash []byte) (protostar.APIKey, error) {
	c := l.get(ctx, sha256.Sum256(append([]byte("key\x00"), hash...)), func(ctx context.Context) lookup {
		k, err := src.KeyByHash(ctx, hash)
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
