package ingest_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/protostar/protostar"
	"github.com/protostar/protostar/internal/hashembed"
	"github.com/protostar/protostar/internal/ingest"
	"github.com/protostar/protostar/internal/postgres"
	"github.com/protostar/protostar/internal/s3"
	"github.com/protostar/protostar/internal/testenv"
	"github.com/protostar/protostar/internal/worker"
)

// BenchmarkIngest runs the ingest worker's ingest — Service.Handle, as
// the queue calls it — over a generated corpus of mixed Korean/English
// Markdown against the real stack, four jobs at a time like a worker with
// the default PROTOSTAR_WORKER_CONCURRENCY, and reports chunks/s. It is
// the in-process view of `make bench`'s ingest figure, for profiling:
//
//	go test -run '^$' -bench Ingest -benchtime 3x -cpuprofile cpu.out ./internal/ingest
func BenchmarkIngest(b *testing.B) {
	const (
		docs        = 200
		concurrency = 4
		dims        = 384
	)
	logger := slog.New(slog.DiscardHandler)
	db := testenv.NewDB(b, dims)
	cfg := testenv.NewS3(b)
	store, err := s3.New(logger, s3.Config{Endpoint: cfg.Endpoint, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, Bucket: cfg.Bucket, CreateBucket: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := store.EnsureBucket(ctx); err != nil {
		b.Fatal(err)
	}
	emb, _ := hashembed.New(dims)
	svc, err := ingest.New(logger, db, store, spacesOf(db, emb), worker.NewRunner(logger, db, worker.RunnerConfig{StaleAfter: time.Minute}, nil),
		ingest.Config{MaxTokens: 512, OverlapTokens: 64, BatchSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	corpus := make([]string, docs)
	var size int64
	for i := range corpus {
		corpus[i] = genDocument(uint64(i))
		size += int64(len(corpus[i]))
	}
	b.SetBytes(size)
	chunks := 0
	var elapsed time.Duration
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		jobs := uploadAndSubmit(b, db, store, n, corpus)
		b.StartTimer()
		start := time.Now()
		runJobs(b, svc, jobs, concurrency)
		elapsed += time.Since(start)
		b.StopTimer()
		var got int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE d.key LIKE $1 AND d.status = 'ready'`, fmt.Sprintf("it%d/%%", n)).Scan(&got); err != nil {
			b.Fatal(err)
		}
		chunks += got
		b.StartTimer()
	}
	b.ReportMetric(float64(chunks)/elapsed.Seconds(), "chunks/s")
}

func uploadAndSubmit(b *testing.B, db *postgres.DB, store *s3.Store, iteration int, corpus []string) []string {
	ctx := context.Background()
	jobs := make([]string, len(corpus))
	for i, doc := range corpus {
		key := fmt.Sprintf("it%d/doc%04d.md", iteration, i)
		if _, err := store.Put(ctx, protostar.ObjectKey("t", key), strings.NewReader(doc), int64(len(doc)), ""); err != nil {
			b.Fatal(err)
		}
		_, j, err := db.SubmitDocument(ctx, protostar.Submission{TenantID: "t", Key: key, MaxAttempts: 4})
		if err != nil {
			b.Fatal(err)
		}
		jobs[i] = j.ID
	}
	return jobs
}

func runJobs(b *testing.B, svc *ingest.Service, jobs []string, concurrency int) {
	next := make(chan string)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for id := range next {
				if err := svc.Handle(context.Background(), id); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, id := range jobs {
		next <- id
	}
	close(next)
	wg.Wait()
}

// genDocument returns a deterministic mixed Korean/English Markdown
// document of a few to a few tens of KiB: sections of prose (Korean
// sentences with English terms, English sentences), lists, code and tables.
func genDocument(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 99))
	ko := strings.Fields("데이터베이스를 인덱스가 쿼리는 캐시에서 서버의 클러스터와 트랜잭션을 로그를 모니터링이 배포는 " +
		"컨테이너로 네트워크의 사용자가 문서를 검색은 요약을 임베딩이 벡터를 토큰의 청크로 파이프라인이 작업을 워커가 " +
		"메모리를 디스크의 성능이 지연이 처리량을 장애를 복구는 백업을 설정이 테스트를 병목이 스키마를 테이블의")
	koEnd := strings.Fields("튜닝했다. 개선한다. 빨라졌다. 중요하다. 필요하다. 줄어들었다. 저장한다. 처리한다. 분석했다. 측정했다.")
	en := strings.Fields("the a index query worker chunk token embedding search vector document section stream memory " +
		"bounded fast reliable Postgres Redis object storage ingest pipeline result cache latency throughput tenant " +
		"request response model retrieval replica snapshot schema migration partition lock")
	words := func(sb *strings.Builder, list []string, n int) {
		for i := range n {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(list[rng.IntN(len(list))])
		}
	}
	var sb strings.Builder
	target := 2<<10 + rng.IntN(30<<10)
	fmt.Fprintf(&sb, "# 문서 %d guide\n\n", seed)
	for s := 0; sb.Len() < target; s++ {
		fmt.Fprintf(&sb, "%s Section %d ", strings.Repeat("#", 2+rng.IntN(2)), s)
		words(&sb, ko, 2)
		sb.WriteString("\n\n")
		for range 1 + rng.IntN(3) {
			switch rng.IntN(5) {
			case 0:
				for range 2 + rng.IntN(5) {
					sb.WriteString("- ")
					words(&sb, en, 4+rng.IntN(8))
					sb.WriteString(".\n")
				}
			case 1:
				sb.WriteString("```go\n")
				for i := range 3 + rng.IntN(10) {
					fmt.Fprintf(&sb, "\tx%d := compute(%d, %q)\n", i, rng.IntN(1000), en[rng.IntN(len(en))])
				}
				sb.WriteString("```\n")
			case 2:
				sb.WriteString("| 이름 | value |\n|---|---:|\n")
				for range 2 + rng.IntN(8) {
					sb.WriteString("| ")
					words(&sb, ko, 1)
					fmt.Fprintf(&sb, " | %d |\n", rng.IntN(100000))
				}
			default:
				for range 2 + rng.IntN(8) {
					if rng.IntN(2) == 0 {
						words(&sb, ko, 3+rng.IntN(6))
						sb.WriteByte(' ')
						words(&sb, koEnd, 1)
					} else {
						words(&sb, en, 6+rng.IntN(10))
						sb.WriteByte('.')
					}
					sb.WriteByte(' ')
				}
				sb.WriteByte('\n')
			}
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}
