package testenv

import (
	"os"
	"testing"
)

// S3 describes the stack's MinIO with a bucket name unique to the test.
// The bucket is not created; the code under test creates it.
type S3 struct {
	Endpoint, AccessKey, SecretKey, Bucket string
	TLS                                    bool
}

// NewS3 returns the stack's S3 settings with a fresh bucket name.
func NewS3(t testing.TB) S3 {
	t.Helper()
	return S3{
		Endpoint:  Env(t, "PROTOSTAR_S3_ENDPOINT"),
		AccessKey: Env(t, "PROTOSTAR_S3_ACCESS_KEY"),
		SecretKey: Env(t, "PROTOSTAR_S3_SECRET_KEY"),
		Bucket:    Name("test-"),
		TLS:       os.Getenv("PROTOSTAR_S3_USE_TLS") == "true",
	}
}
