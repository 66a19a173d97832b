package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts endpoint secrets for storage with AES-256-GCM under a
// key derived from PROTOSTAR_SECRET_KEY, so a database dump alone cannot
// forge signatures.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for the operator's secret key. An empty key
// gives nil: webhooks are then unavailable.
func NewSealer(secretKey string) (*Sealer, error) {
	if secretKey == "" {
		return nil, nil
	}
	if len(secretKey) < 16 {
		return nil, errors.New("PROTOSTAR_SECRET_KEY must be at least 16 characters")
	}
	k := sha256.Sum256([]byte("protostar webhook secrets\x00" + secretKey))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts secret; the nonce leads the result.
func (s *Sealer) Seal(secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(secret), nil)
}

// Open decrypts what Seal returned.
func (s *Sealer) Open(sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed webhook secret is too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", fmt.Errorf("open webhook secret (was PROTOSTAR_SECRET_KEY changed?): %w", err)
	}
	return string(plain), nil
}
