package protostar

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"time"
)

// Tenant is an organisation whose documents, jobs, webhooks and keys are
// kept apart from every other's. Tenants named in PROTOSTAR_API_KEYS exist
// without a row; the platform creates the others at run time.
type Tenant struct {
	ID        string     `json:"id" example:"org_4815"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	// PurgedAt is when the last of a deleted tenant's data was removed.
	PurgedAt *time.Time `json:"purged_at,omitempty"`
}

// APIKey describes a key stored in Postgres. The key itself is shown once,
// at creation; only its SHA-256 is stored, and Prefix lets a human tell
// keys apart.
type APIKey struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id,omitempty"` // empty: a platform key
	Platform   bool       `json:"platform"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix" example:"pk_live_3f9a"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Usable reports whether the key authenticates at now.
func (k APIKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// KeyPrefix starts every key protostar generates, so a secret scanner and
// a human can recognise one.
const KeyPrefix = "pk_live_"

// NewAPIKey returns a new key (256 random bits), the prefix shown to humans
// to tell keys apart, and the hash that is stored.
func NewAPIKey() (key, prefix string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, key[:len(KeyPrefix)+8], HashAPIKey(key)
}

// HashAPIKey is how a key is stored and looked up: its SHA-256. The keys
// are random and long, so no slow hash is needed.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// IsStoredKey reports whether key has the form of a generated key, so that
// only those are looked up in Postgres.
func IsStoredKey(key string) bool {
	return strings.HasPrefix(key, KeyPrefix) && len(key) == len(KeyPrefix)+43
}

var tenantRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidTenant checks a tenant id: 1–64 letters, digits, '_', '.' or '-',
// and not only dots ("." and ".." would make object prefixes that are path
// tricks).
func ValidTenant(id string) error {
	if !tenantRE.MatchString(id) || strings.Trim(id, ".") == "" {
		return Errorf(EINVALID, "tenant id must match %s and not be only dots", tenantRE)
	}
	return nil
}
