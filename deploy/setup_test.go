package deploy

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/protostar/protostar/internal/config"
)

// entrypoint is where the image keeps the binary; compose's health checks
// call it by this path, since the image has no shell to search PATH.
const entrypoint = "/usr/local/bin/protostar"

// imageUser is the image's numeric non-root user.
const imageUser = "65532:65532"

// tool returns the value of the environment variable naming a tool or an
// artefact, skipping the test when it is unset, or failing it under
// PROTOSTAR_REQUIRE_DEPLOY=1 (make test-deploy).
func tool(t *testing.T, name, how string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("PROTOSTAR_REQUIRE_DEPLOY") == "1" {
			t.Fatalf("%s is not set: %s", name, how)
		}
		t.Skipf("%s is not set (%s); make test-deploy runs this test", name, how)
	}
	return v
}

// configVar is one variable of config.Config.
type configVar struct {
	Default string // envDefault
	Secret  string // how protostar config masks it ("true", "url", "apikeys"): never a literal in deployment files
}

// configVars reads the variables of config.Config from its struct tags, so
// the deployment files are checked against the code, not a copied list.
func configVars(t *testing.T) map[string]configVar {
	t.Helper()
	out := map[string]configVar{}
	typ := reflect.TypeOf(config.Config{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		out[name] = configVar{Default: f.Tag.Get("envDefault"), Secret: f.Tag.Get("secret")}
	}
	if _, ok := out["PROTOSTAR_DATABASE_URL"]; len(out) < 50 || !ok {
		t.Fatalf("config.Config has %d env-tagged fields; the reflection is broken", len(out))
	}
	return out
}
