package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestTokenMatches(t *testing.T) {
	t.Parallel()
	const token = "s3-token"
	tests := []struct {
		name, header string
		want         bool
	}{
		{"bearer (MinIO)", "Bearer s3-token", true},
		{"bearer, scheme in any case", "bearer s3-token", true},
		{"basic password (SNS)", "Basic cHJvdG9zdGFyOnMzLXRva2Vu", true}, // protostar:s3-token
		{"wrong bearer", "Bearer s3-tokeN", false},
		{"wrong basic password", "Basic cHJvdG9zdGFyOm5vcGU=", false}, // protostar:nope
		{"token without scheme", "s3-token", false},
		{"empty bearer", "Bearer ", false},
		{"none", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", s3EventsPath, nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		if got := tokenMatches(r, token); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
