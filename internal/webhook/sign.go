// Package webhook delivers a tenant's events to its endpoints as Standard
// Webhooks 1.0: signed with HMAC-SHA256, retried on a schedule like Svix's,
// from deliveries that Postgres records in the same transaction as the
// state change that causes them. It also holds what the API needs to
// manage endpoints: secrets, their sealing for storage, URL rules.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/protostar/protostar"
)

const secretPrefix = "whsec_"

// NewSecret returns a new signing secret as shown to the tenant once
// ("whsec_" + base64 of 32 random bytes).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey returns the HMAC key of a "whsec_" secret.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("webhook secret is not whsec_ + base64")
	}
	return key, nil
}

// Signature returns the webhook-signature value of one message: a
// space-separated "v1,<base64 HMAC-SHA256 of id.timestamp.body>" for each
// secret, so a receiver holding either the new or the old secret during a
// rotation can verify it.
func Signature(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// signingSecrets opens the secrets that sign now: the current one, and the
// previous one until its overlap ends.
func signingSecrets(s *Sealer, sec protostar.WebhookSecrets, now time.Time) ([]string, error) {
	cur, err := s.Open(sec.Current)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if len(sec.Previous) > 0 && sec.PreviousExpires != nil && now.Before(*sec.PreviousExpires) {
		prev, err := s.Open(sec.Previous)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}
