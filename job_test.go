package protostar_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/protostar/protostar"
)

// The API document's enum of job types names every type a job can have:
// the embedding-space backfill's was missing, so a typed client was told
// a backfill job could not exist.
func TestJobTypeEnumIsComplete(t *testing.T) {
	f, _ := reflect.TypeFor[protostar.Job]().FieldByName("Type")
	enum := strings.Split(f.Tag.Get("enum"), ",")
	for _, typ := range []string{protostar.JobIngest, protostar.JobSummary, protostar.JobSync,
		protostar.JobTenantDelete, protostar.JobEmbedBackfill} {
		if !slices.Contains(enum, typ) {
			t.Errorf("job type %q missing from the enum %v", typ, enum)
		}
	}
}
