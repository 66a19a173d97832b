package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/protostar/protostar/internal/testenv"
)

// bigMarkdown generates a deterministic mixed Korean/English document of
// about n bytes.
func bigMarkdown(n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "## 섹션 %d: Section %d\n\n", i, i)
		fmt.Fprintf(&b, "데이터베이스 %d번 노드는 정상적으로 동작한다. Node %d replicates WAL to its standby every second. ", i, i)
		fmt.Fprintf(&b, "검색 품질을 높이려면 인덱스를 점검해야 한다. The vector index %d keeps recall high.\n\n", i)
		fmt.Fprintf(&b, "- 항목 %d: 백업 확인\n- item %d: restore drill\n\n", i, i)
	}
	return []byte(b.String())
}

func TestWorkerKilledMidJobRecovers(t *testing.T) {
	t.Parallel()
	s := newStack(t, "PROTOSTAR_JOB_STALE_AFTER=10s", "PROTOSTAR_EMBED_BATCH_SIZE=8")
	api := s.start("serve")
	acc := api.mustUpload("big/crash.md", keyA, bigMarkdown(12<<20))

	w1 := s.start("worker")
	// Kill it mid-job: once some of the document's chunks are written.
	s.waitChunks(acc.Document.ID)
	w1.Kill()
	killedAt := time.Now()

	w2 := s.start("worker")
	j := api.waitJob(acc.Job.ID, keyA, 3*time.Minute)
	if j.Status != "succeeded" || j.Attempts < 2 {
		t.Fatalf("job after worker crash = %+v, want succeeded on a later attempt", j)
	}
	t.Logf("recovered %s after SIGKILL (attempts %d, %d chunks)", time.Since(killedAt).Round(time.Millisecond), j.Attempts, j.Result.ChunksTotal)
	d := api.doc(acc.Document.ID, keyA)
	if d.Status != "ready" || d.ChunkCount != j.Result.ChunksTotal || d.ChunkCount == 0 {
		t.Fatalf("document = %+v", d)
	}
	assertNoDuplicateChunks(t, s.DBURL)

	// The worker's own listener counts the attempt it finished, and the
	// backlog read from Postgres is empty again.
	testenv.WaitFor(t, 5*time.Second, "the worker's /metrics to count the attempt", func() bool {
		code, body := w2.get("/metrics", "")
		return code == http.StatusOK && strings.Contains(string(body), `protostar_job_attempts_total{outcome="succeeded",type="ingest"} 1`) &&
			strings.Contains(string(body), `protostar_jobs{status="running",type="ingest"} 0`)
	})
}
