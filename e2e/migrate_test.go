package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

// TestUnmigratedDatabase: serve on a database nobody migrated says what to
// do, in its log and in /readyz (it used to repeat pgvector's "vector type
// not found in the database"); with PROTOSTAR_MIGRATE_ON_START=true it
// migrates the schema itself and becomes ready.
func TestUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.DBURL = testenv.NewDatabase(t) // a fresh, empty database
	p := s.spawn("serve")
	const want = "schema not migrated: run `protostar migrate up`"
	testenv.WaitFor(t, 20*time.Second, "readyz naming the missing migration", func() bool {
		code, body := p.get("/readyz", "")
		return code == http.StatusServiceUnavailable && strings.Contains(string(body), want)
	})
	testenv.WaitFor(t, 10*time.Second, "a log line naming the missing migration", func() bool { return p.logged(want) })
	if p.logged("vector type not found") {
		t.Error("the log still repeats pgvector's own error")
	}
	p.Stop()

	p = s.start("serve", "PROTOSTAR_MIGRATE_ON_START=true")
	if code, body := p.get("/v1/documents", keyA); code != http.StatusOK {
		t.Fatalf("after migrating on start: %d %s", code, short(body))
	}
}
