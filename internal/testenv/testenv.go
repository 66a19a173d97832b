// Package testenv gives integration tests, the fault suite and the
// benchmark isolated slices of the real stack that `make test` starts
// (scripts/stack.sh): a fresh database per test, a bucket per test, and
// private Redis, Postgres and MinIO servers for tests that stop and start a
// dependency. It is also the one harness that runs processes: Process
// starts, stops, kills and restarts a server, decides readiness by probing
// it (a protostar daemon's /readyz), and keeps its log; Protostar is the
// protostar daemon on it.
//
// The functions at its core take a context and return errors, so the
// benchmark (a program, not a test) uses them too; thin testing.TB wrappers
// (NewDatabase, NewRedis, Track, WaitFor, ...) serve the tests.
//
// When the stack's environment is missing the tests are skipped, unless
// PROTOSTAR_REQUIRE_STACK=1 (set by the Makefile), which turns the skip into
// a failure so CI can never pass without having run them.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// Env returns the value of the environment variable name, skipping (or
// failing under PROTOSTAR_REQUIRE_STACK=1) the test when it is unset.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("PROTOSTAR_REQUIRE_STACK") == "1" {
			t.Fatalf("%s is not set; run the tests through `make test`", name)
		}
		t.Skipf("%s is not set; run `make test` to start the stack", name)
	}
	return v
}

// Name returns a unique lower-case identifier with the given prefix, safe
// for database, bucket and key names.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToLower(prefix) + hex.EncodeToString(b)
}
