package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// The corpus is generated, never downloaded: mixed Korean/English Markdown
// with front matter, headings, paragraphs, lists, code blocks, tables and
// quotes. Every document has a topic — nouns it uses far more often than
// others — so that searches have real answers. Everything is a pure
// function of a seed and an index: two runs see the same bytes.

// Seeds of the corpora, so that no two figures share documents by accident.
const (
	seedIngest  = 1
	seedSearch  = 2
	seedStream  = 3
	seedQueries = 4
	seedAnswers = 5
)

var (
	koNouns = strings.Fields(`데이터베이스 인덱스 쿼리 캐시 서버 클러스터 복제 트랜잭션 로그 모니터링 배포 컨테이너
		네트워크 보안 인증 권한 사용자 문서 검색 요약 질문 답변 임베딩 벡터 토큰 청크 파이프라인 작업 큐 워커
		스트림 메모리 디스크 성능 지연 처리량 장애 복구 백업 스냅샷 설정 환경 변수 테스트 벤치마크 프로파일
		최적화 병목 스레드 프로세스 파일 객체 버킷 저장소 스키마 테이블 레코드 키 값 해시 정렬 필터 조인 집계
		통계 분석 보고서 대시보드 알림 경고 오류 예외 재시도 시간 한도 요청 응답 세션 연결 부하 분산 샤딩
		파티션 일관성 가용성 내구성 격리 잠금 동시성 서비스 고객 주문 결제 상품 재고 배송 계약 정책 규칙 품질
		비용 예산 일정 회의 팀 개발자 운영자 관리자 아키텍처 마이그레이션 버전 릴리스 기능 요구사항 설계 구현
		검토 문제 해결 방법 결과 목표 지표 실험 모델 학습 추론 데이터 형식 인코딩 압축 암호화 백엔드 프론트엔드`)
	koPredicates = strings.Fields(`튜닝했다 개선한다 확인해야 한다 빨라졌다 느려졌다 중요하다 필요하다 줄어들었다
		늘어났다 저장한다 처리한다 검색한다 분석했다 설계했다 배포했다 감시한다 추가했다 삭제했다 변경했다
		유지한다 측정했다 비교했다 발견했다 해결했다 재시작했다 나눈다 합친다 검증한다 기록한다 읽는다`)
	koQuestions = []string{"무엇인가?", "왜 느린가?", "어떻게 할까?", "충분한가?", "필요한가?"}
	enNouns     = strings.Fields(`database index query cache server cluster replica transaction log monitoring
		deployment container network security authentication permission user document search summary question
		answer embedding vector token chunk pipeline job queue worker stream memory disk performance latency
		throughput outage recovery backup snapshot configuration environment variable test benchmark profile
		optimization bottleneck thread process file object bucket storage schema table record key value hash sort
		filter join aggregate statistics analysis report dashboard alert warning error exception retry timeout
		limit request response session connection balancer shard partition consistency availability durability
		isolation lock concurrency service customer order payment product inventory shipping contract policy rule
		quality cost budget schedule meeting team developer operator administrator architecture migration version
		release feature requirement design implementation review problem solution method result goal metric
		experiment model training inference format encoding compression encryption backend frontend Postgres Redis
		MinIO Kubernetes pgvector HNSW tokenizer`)
	enVerbs = strings.Fields(`improves reduces increases stores processes searches analyzes designs deploys monitors
		adds removes changes keeps measures compares finds fixes restarts caches indexes streams embeds splits
		merges validates rejects retries schedules`)
	enAdjectives = strings.Fields(`fast slow reliable bounded large small new old critical stable noisy hot cold
		primary secondary local remote durable consistent concurrent incremental parallel sequential expensive
		cheap simple complex`)
	enFunction = strings.Fields(`the the the a this every our each that its`)
	enPreps    = strings.Fields(`with for in on under behind after before across`)
)

// The long tail of the vocabulary: generated Korean and English words, as
// specific as the product names, identifiers and jargon of real documents.
// Topics draw on it, so documents differ the way real ones do; a corpus of
// a few hundred common words only would make every chunk look alike.
var (
	koRare = syntheticWords(0x6b6f, 6000, func(rng *rand.Rand) string {
		syll := []rune("가나다라마바사아자차카타파하고노도로모보소오조초코토포호구누두루무부수우주추쿠투푸후기니디리미비시이지치키티피히한국민정성원상전장동영경신연선관문대학진현준석철환훈빈율윤")
		n := 2 + rng.IntN(3)
		w := make([]rune, n)
		for i := range w {
			w[i] = syll[rng.IntN(len(syll))]
		}
		return string(w)
	})
	enRare = syntheticWords(0x656e, 6000, func(rng *rand.Rand) string {
		onsets := strings.Fields("b c d f g h k l m n p r s t v w z st tr pl gr br cl sh ch th")
		vowels := strings.Fields("a e i o u ai ea ou io")
		codas := strings.Fields("n r s t l m x nd rt")
		var b strings.Builder
		for range 2 + rng.IntN(2) {
			b.WriteString(onsets[rng.IntN(len(onsets))])
			b.WriteString(vowels[rng.IntN(len(vowels))])
		}
		b.WriteString(codas[rng.IntN(len(codas))])
		return b.String()
	})
)

// syntheticWords returns n distinct words made by gen.
func syntheticWords(seed uint64, n int, gen func(*rand.Rand) string) []string {
	rng := rand.New(rand.NewPCG(seed, seed))
	seen := map[string]bool{}
	out := make([]string, 0, n)
	for len(out) < n {
		if w := gen(rng); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// docGen writes one document (or one endless stream) of the corpus.
type docGen struct {
	rng   *rand.Rand
	topic []string // nouns of this document's topic, Korean and English
	n     int      // sections written
}

func newDocGen(seed uint64, index int) *docGen {
	g := &docGen{rng: rand.New(rand.NewPCG(seed, uint64(index)))}
	g.topic = topicOf(seed, index)
	return g
}

// topicOf returns the topic nouns of document index of corpus seed — mostly
// specific words, a few common ones; the queries are drawn from them.
func topicOf(seed uint64, index int) []string {
	rng := rand.New(rand.NewPCG(seed^0x7a3d, uint64(index)))
	var t []string
	for range 4 {
		t = append(t, koRare[rng.IntN(len(koRare))], enRare[rng.IntN(len(enRare))])
	}
	for range 2 {
		t = append(t, koNouns[rng.IntN(len(koNouns))], enNouns[rng.IntN(len(enNouns))])
	}
	return t
}

// noun picks a noun: often from the topic, otherwise a common noun or a
// word of the long tail, both with a Zipf-like skew towards the start of
// their list.
func (g *docGen) noun(korean bool) string {
	if g.rng.IntN(20) < 9 {
		for range 4 {
			w := g.topic[g.rng.IntN(len(g.topic))]
			if isHangul(w) == korean {
				return w
			}
		}
	}
	common, rare := enNouns, enRare
	if korean {
		common, rare = koNouns, koRare
	}
	list := common
	if g.rng.IntN(11) < 4 {
		list = rare
	}
	return list[int(float64(len(list))*g.rng.Float64()*g.rng.Float64())]
}

func isHangul(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return r >= 0xAC00 && r <= 0xD7A3
}

// hasBatchim reports whether the word ends in a Hangul syllable with a
// final consonant, which decides the particle's form (을/를, 이/가, …).
func hasBatchim(w string) bool {
	r, _ := utf8.DecodeLastRuneInString(w)
	if r < 0xAC00 || r > 0xD7A3 {
		return strings.ContainsRune("bcdgklmnprt", r) // English ends read as consonants
	}
	return (r-0xAC00)%28 != 0
}

func (g *docGen) particle(w string) string {
	pairs := [][2]string{{"을", "를"}, {"이", "가"}, {"은", "는"}, {"과", "와"}, {"으로", "로"}, {"의", "의"}, {"에서", "에서"}, {"도", "도"}}
	p := pairs[g.rng.IntN(len(pairs))]
	if hasBatchim(w) {
		return p[0]
	}
	return p[1]
}

// sentence appends one sentence: Korean (sometimes with English nouns in
// it, as Korean technical writing has) or English.
func (g *docGen) sentence(b []byte) []byte {
	if g.rng.IntN(5) < 3 {
		for i := range 2 + g.rng.IntN(4) {
			if i > 0 {
				b = append(b, ' ')
			}
			w := g.noun(g.rng.IntN(4) != 0)
			b = append(b, w...)
			b = append(b, g.particle(w)...)
		}
		b = append(b, ' ')
		if g.rng.IntN(8) == 0 {
			return append(b, koQuestions[g.rng.IntN(len(koQuestions))]...)
		}
		return append(b, koPredicates[g.rng.IntN(len(koPredicates))]...)
	}
	start := len(b)
	b = append(b, enFunction[g.rng.IntN(len(enFunction))]...)
	b = append(b, ' ')
	b = append(b, enAdjectives[g.rng.IntN(len(enAdjectives))]...)
	b = append(b, ' ')
	b = append(b, g.noun(false)...)
	b = append(b, ' ')
	b = append(b, enVerbs[g.rng.IntN(len(enVerbs))]...)
	for range 1 + g.rng.IntN(3) {
		b = append(b, ' ')
		b = append(b, enFunction[g.rng.IntN(len(enFunction))]...)
		b = append(b, ' ')
		b = append(b, g.noun(false)...)
		if g.rng.IntN(2) == 0 {
			b = append(b, ' ')
			b = append(b, enPreps[g.rng.IntN(len(enPreps))]...)
		}
	}
	if b[start] >= 'a' && b[start] <= 'z' {
		b[start] -= 'a' - 'A'
	}
	return append(b, ".!?."[g.rng.IntN(4)])
}

func (g *docGen) title(b []byte) []byte {
	w := g.noun(true)
	b = append(b, w...)
	b = append(b, ' ')
	b = append(b, g.noun(false)...)
	if g.rng.IntN(2) == 0 {
		b = append(b, ' ')
		b = append(b, g.noun(true)...)
	}
	return b
}

// header appends front matter (sometimes) and the document's title.
func (g *docGen) header(b []byte, index int) []byte {
	if g.rng.IntN(10) < 3 {
		b = fmt.Appendf(b, "---\ntitle: 문서 %d\ntags: [%s, %s]\nowner: team-%d\n---\n\n", index,
			g.topic[1], g.topic[3], g.rng.IntN(20))
	}
	b = append(b, "# "...)
	b = g.title(b)
	b = append(b, "\n\n"...)
	for range 1 + g.rng.IntN(3) {
		b = g.sentence(b)
		b = append(b, ' ')
	}
	b[len(b)-1] = '\n'
	return append(b, '\n')
}

// section appends a section: a heading and one to four blocks.
func (g *docGen) section(b []byte) []byte {
	g.n++
	level := 2
	if g.n > 1 && g.rng.IntN(3) == 0 {
		level = 3
	}
	b = append(b, strings.Repeat("#", level)...)
	b = append(b, ' ')
	b = g.title(b)
	b = append(b, "\n\n"...)
	for range 1 + g.rng.IntN(4) {
		switch k := g.rng.IntN(10); {
		case k < 5:
			for range 2 + g.rng.IntN(10) {
				b = g.sentence(b)
				b = append(b, ' ')
			}
			b[len(b)-1] = '\n'
		case k < 7:
			for i := range 2 + g.rng.IntN(6) {
				if g.rng.IntN(2) == 0 {
					b = fmt.Appendf(b, "%d. ", i+1)
				} else {
					b = append(b, "- "...)
				}
				b = g.sentence(b)
				b = append(b, '\n')
			}
		case k < 8:
			b = g.code(b)
		case k < 9:
			b = g.table(b)
		default:
			for range 1 + g.rng.IntN(3) {
				b = append(b, "> "...)
				b = g.sentence(b)
				b = append(b, '\n')
			}
		}
		b = append(b, '\n')
	}
	return b
}

func (g *docGen) code(b []byte) []byte {
	switch g.rng.IntN(3) {
	case 0:
		b = append(b, "```sql\n"...)
		for range 2 + g.rng.IntN(8) {
			b = fmt.Appendf(b, "SELECT %s, count(*) FROM %s WHERE %s > %d GROUP BY 1;\n",
				g.noun(false), g.noun(false), g.noun(false), g.rng.IntN(1000))
		}
	case 1:
		b = append(b, "```go\n"...)
		for i := range 3 + g.rng.IntN(15) {
			verb := enVerbs[g.rng.IntN(len(enVerbs))]
			b = fmt.Appendf(b, "\t%s%d, err := client.%s(ctx, %q, %d)\n", g.noun(false), i,
				strings.ToUpper(verb[:1])+verb[1:], g.noun(true), g.rng.IntN(100))
		}
	default:
		b = append(b, "```yaml\n"...)
		for range 3 + g.rng.IntN(10) {
			b = fmt.Appendf(b, "%s_%s: %d # %s\n", g.noun(false), g.noun(false), g.rng.IntN(10000), g.noun(true))
		}
	}
	return append(b, "```\n"...)
}

func (g *docGen) table(b []byte) []byte {
	b = append(b, "| 항목 | value | 설명 |\n|---|---:|:---|\n"...)
	for range 2 + g.rng.IntN(9) {
		b = fmt.Appendf(b, "| %s | %d | ", g.noun(true), g.rng.IntN(100000))
		b = g.sentence(b)
		b = append(b, " |\n"...)
	}
	return b
}

// document returns document index of corpus seed, of a drawn size.
func document(seed uint64, index int) []byte {
	g := newDocGen(seed, index)
	return g.write(index, g.size())
}

// documentOfSize returns document index of corpus seed, at least size
// bytes long.
func documentOfSize(seed uint64, index, size int) []byte {
	return newDocGen(seed, index).write(index, size)
}

func (g *docGen) write(index, size int) []byte {
	b := make([]byte, 0, size+4*kib)
	b = g.header(b, index)
	for len(b) < size {
		b = g.section(b)
	}
	return b
}

// size draws a document size: mostly a few KiB, some tens of KiB, a few
// over a hundred.
func (g *docGen) size() int {
	switch u := g.rng.Float64(); {
	case u < 0.70:
		return 2*kib + g.rng.IntN(10*kib)
	case u < 0.95:
		return 12*kib + g.rng.IntN(36*kib)
	default:
		return 48*kib + g.rng.IntN(112*kib)
	}
}

// streamReader yields exactly size bytes of one generated document of any
// size, producing it section by section: nothing but one section is ever
// in memory. The last bytes are ASCII filler, so the cut at size never
// splits a rune.
type streamReader struct {
	g    *docGen
	left int64
	buf  []byte
	off  int
}

func newStreamReader(seed uint64, size int64) *streamReader {
	r := &streamReader{g: newDocGen(seed, 0), left: size}
	r.buf = r.g.header(nil, 0)
	return r
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if r.off == len(r.buf) {
		r.buf, r.off = r.g.section(r.buf[:0]), 0
	}
	if int64(len(r.buf)-r.off) > r.left {
		// The last section does not fit: ASCII filler instead.
		r.buf, r.off = filler(r.buf[:0], int(r.left)), 0
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	r.left -= int64(n)
	return n, nil
}

// filler appends n bytes of ASCII prose ending in a line break.
func filler(b []byte, n int) []byte {
	start := len(b)
	for i := 0; len(b)-start < n; i++ {
		b = append(b, enNouns[i%len(enNouns)]...)
		b = append(b, ' ')
	}
	b = b[:start+n]
	if n > 0 {
		b[len(b)-1] = '\n'
	}
	return b
}

// queries returns n search queries about the topics of documents
// 0..docs-1 of corpus seed: two to four topic nouns, Korean, English or
// mixed, sometimes with a particle. Different salts give different
// queries.
func queries(seed, salt uint64, docs, n int) []string {
	rng := rand.New(rand.NewPCG(seed, salt))
	out := make([]string, 0, n)
	for range n {
		topic := topicOf(seed, rng.IntN(docs))
		var words []string
		for range 2 + rng.IntN(3) {
			w := topic[rng.IntN(len(topic))]
			if isHangul(w) && rng.IntN(3) == 0 {
				if hasBatchim(w) {
					w += "을"
				} else {
					w += "를"
				}
			}
			words = append(words, w)
		}
		out = append(out, strings.Join(words, " "))
	}
	return out
}
