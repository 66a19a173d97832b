package console

import (
	"net/http"
	"strconv"
	"strings"
)

// Languages the console speaks; the first is the default.
var languages = []string{"en", "ko"}

// catalogue holds every text of the console, English and Korean, in one
// place. A message missing in Korean falls back to English; one missing in
// both shows its id, so a test sees it.
var catalogue = map[string]map[string]string{
	"en": {
		"app":               "protostar console",
		"skip":              "Skip to content",
		"nav.overview":      "Overview",
		"nav.documents":     "Documents",
		"nav.jobs":          "Jobs",
		"nav.search":        "Search",
		"nav.webhooks":      "Webhooks",
		"signin.title":      "Sign in",
		"signin.key":        "API key",
		"signin.help":       "Paste a tenant or platform API key. It is checked once and never stored in the browser: the console keeps a session cookie instead.",
		"signin.submit":     "Sign in",
		"signout":           "Sign out",
		"signed.out":        "You are signed out.",
		"tenant":            "Tenant",
		"tenant.switch":     "Switch",
		"tenant.choose":     "Choose the tenant to act for",
		"tenant.none":       "No tenants yet: create one with POST /v1/tenants.",
		"platform":          "platform key",
		"lang":              "Language",
		"loading":           "Loading…",
		"error.title":       "Something went wrong",
		"error.back":        "Back to the overview",
		"ov.documents":      "Documents by status",
		"ov.jobs":           "Jobs by status",
		"ov.backlog":        "Queue backlog",
		"ov.queued":         "queued",
		"ov.running":        "running",
		"ov.oldest":         "oldest queued job waits",
		"ov.none.waiting":   "nothing is waiting",
		"ov.rate":           "Ingests in the last hour",
		"ov.rate.help":      "Finished ingest jobs per five minutes: succeeded and failed.",
		"ov.health":         "Dependencies",
		"ov.empty":          "No documents yet. Upload Markdown with the API, the CLI (protostar ingest) or by writing it to the bucket.",
		"status.pending":    "pending",
		"status.indexing":   "indexing",
		"status.ready":      "ready",
		"status.failed":     "failed",
		"status.queued":     "queued",
		"status.running":    "running",
		"status.succeeded":  "succeeded",
		"status.canceled":   "canceled",
		"ok":                "ok",
		"down":              "down",
		"docs.filter":       "Filter",
		"docs.status":       "Status",
		"docs.any":          "any",
		"docs.prefix":       "Key prefix",
		"docs.meta":         "Metadata",
		"docs.meta.help":    "name=value, comma-separated",
		"docs.apply":        "Apply",
		"docs.key":          "Key",
		"docs.version":      "Version",
		"docs.chunks":       "Chunks",
		"docs.updated":      "Updated",
		"docs.error":        "Error",
		"docs.empty":        "No documents match.",
		"docs.next":         "Next page",
		"docs.first":        "First page",
		"docs.live":         "Updating live while documents are being indexed.",
		"doc.info":          "Document",
		"doc.size":          "Size",
		"doc.indexed":       "Indexed version",
		"doc.source":        "Source",
		"doc.metadata":      "Metadata",
		"doc.actions":       "Actions",
		"doc.reindex":       "Reindex",
		"doc.delete":        "Delete",
		"doc.delete.sure":   "Delete this document? It leaves search at once.",
		"doc.summarize":     "Summarise",
		"doc.length":        "Length",
		"doc.summary":       "Summary",
		"doc.summary.none":  "No summary yet. Summarise starts a job; it appears here when the job ends.",
		"doc.versions":      "Versions and jobs",
		"doc.jobs.none":     "No jobs.",
		"doc.chunks.none":   "No chunks: the document has no indexed version yet.",
		"doc.more":          "More chunks",
		"doc.tokens":        "tokens",
		"doc.reindexed":     "Reindexing: a new version is queued.",
		"doc.summarizing":   "A summary job is queued.",
		"doc.deleted":       "The document was deleted.",
		"jobs.live":         "Running and queued",
		"jobs.live.none":    "No job is running or queued.",
		"jobs.failed":       "Failed jobs",
		"jobs.failed.none":  "No failed jobs.",
		"jobs.type":         "Type",
		"jobs.document":     "Document",
		"jobs.progress":     "Progress",
		"jobs.attempts":     "Attempts",
		"jobs.created":      "Created",
		"jobs.started":      "Started",
		"jobs.finished":     "Finished",
		"jobs.took":         "Took",
		"jobs.retry":        "Retry",
		"jobs.retried":      "The job's work is queued again.",
		"jobs.connecting":   "Connecting…",
		"search.query":      "Query",
		"search.mode":       "Mode",
		"search.topk":       "Results",
		"search.run":        "Search",
		"search.results":    "Results",
		"search.none":       "Nothing matched. Try fewer words, another mode or no filters.",
		"search.start":      "Type a query: each hit shows its vector rank, keyword rank, fused score and the matched terms.",
		"search.vrank":      "vector rank",
		"search.krank":      "keyword rank",
		"search.fused":      "fused score",
		"search.matched":    "matched terms",
		"search.absent":     "—",
		"ask.title":         "Ask",
		"ask.question":      "Question",
		"ask.run":           "Ask",
		"ask.sources":       "Sources",
		"hooks.title":       "Webhook endpoints",
		"hooks.none":        "No webhook endpoints. Create one with POST /v1/webhooks.",
		"hooks.url":         "URL",
		"hooks.enabled":     "Enabled",
		"hooks.disabled":    "Disabled",
		"hooks.deliveries":  "Recent deliveries",
		"hooks.event":       "Event",
		"hooks.attempts":    "Attempts",
		"hooks.last":        "Last answer",
		"hooks.retried":     "The delivery is queued again.",
		"hooks.unavailable": "Webhooks are off: PROTOSTAR_SECRET_KEY is not set.",
		"yes":               "yes",
		"no":                "no",
	},
	"ko": {
		"app":               "protostar 콘솔",
		"skip":              "본문으로 건너뛰기",
		"nav.overview":      "개요",
		"nav.documents":     "문서",
		"nav.jobs":          "작업",
		"nav.search":        "검색",
		"nav.webhooks":      "웹훅",
		"signin.title":      "로그인",
		"signin.key":        "API 키",
		"signin.help":       "테넌트 또는 플랫폼 API 키를 붙여 넣으세요. 키는 한 번 확인만 하고 브라우저에 저장하지 않으며, 콘솔은 세션 쿠키만 보관합니다.",
		"signin.submit":     "로그인",
		"signout":           "로그아웃",
		"signed.out":        "로그아웃되었습니다.",
		"tenant":            "테넌트",
		"tenant.switch":     "전환",
		"tenant.choose":     "작업할 테넌트를 고르세요",
		"tenant.none":       "테넌트가 없습니다. POST /v1/tenants로 만드세요.",
		"platform":          "플랫폼 키",
		"lang":              "언어",
		"loading":           "불러오는 중…",
		"error.title":       "문제가 생겼습니다",
		"error.back":        "개요로 돌아가기",
		"ov.documents":      "상태별 문서",
		"ov.jobs":           "상태별 작업",
		"ov.backlog":        "큐 적체",
		"ov.queued":         "대기",
		"ov.running":        "실행 중",
		"ov.oldest":         "가장 오래 기다린 작업",
		"ov.none.waiting":   "기다리는 작업이 없습니다",
		"ov.rate":           "최근 한 시간의 색인",
		"ov.rate.help":      "5분마다 끝난 색인 작업: 성공과 실패.",
		"ov.health":         "의존 서비스",
		"ov.empty":          "아직 문서가 없습니다. API, CLI(protostar ingest) 또는 버킷에 Markdown을 올리세요.",
		"status.pending":    "대기",
		"status.indexing":   "색인 중",
		"status.ready":      "준비됨",
		"status.failed":     "실패",
		"status.queued":     "대기",
		"status.running":    "실행 중",
		"status.succeeded":  "성공",
		"status.canceled":   "취소됨",
		"ok":                "정상",
		"down":              "중단",
		"docs.filter":       "필터",
		"docs.status":       "상태",
		"docs.any":          "전체",
		"docs.prefix":       "키 접두사",
		"docs.meta":         "메타데이터",
		"docs.meta.help":    "이름=값, 쉼표로 구분",
		"docs.apply":        "적용",
		"docs.key":          "키",
		"docs.version":      "버전",
		"docs.chunks":       "청크",
		"docs.updated":      "수정",
		"docs.error":        "오류",
		"docs.empty":        "조건에 맞는 문서가 없습니다.",
		"docs.next":         "다음 페이지",
		"docs.first":        "첫 페이지",
		"docs.live":         "색인 중인 문서가 있어 실시간으로 갱신합니다.",
		"doc.info":          "문서",
		"doc.size":          "크기",
		"doc.indexed":       "색인된 버전",
		"doc.source":        "출처",
		"doc.metadata":      "메타데이터",
		"doc.actions":       "작업",
		"doc.reindex":       "다시 색인",
		"doc.delete":        "삭제",
		"doc.delete.sure":   "이 문서를 삭제할까요? 검색에서 바로 빠집니다.",
		"doc.summarize":     "요약",
		"doc.length":        "길이",
		"doc.summary":       "요약",
		"doc.summary.none":  "아직 요약이 없습니다. 요약을 누르면 작업이 시작되고, 끝나면 여기에 나타납니다.",
		"doc.versions":      "버전과 작업",
		"doc.jobs.none":     "작업이 없습니다.",
		"doc.chunks.none":   "청크가 없습니다. 아직 색인된 버전이 없습니다.",
		"doc.more":          "청크 더 보기",
		"doc.tokens":        "토큰",
		"doc.reindexed":     "다시 색인합니다. 새 버전이 대기열에 들어갔습니다.",
		"doc.summarizing":   "요약 작업이 대기열에 들어갔습니다.",
		"doc.deleted":       "문서를 삭제했습니다.",
		"jobs.live":         "실행 중·대기 중",
		"jobs.live.none":    "실행 중이거나 기다리는 작업이 없습니다.",
		"jobs.failed":       "실패한 작업",
		"jobs.failed.none":  "실패한 작업이 없습니다.",
		"jobs.type":         "종류",
		"jobs.document":     "문서",
		"jobs.progress":     "진행",
		"jobs.attempts":     "시도",
		"jobs.created":      "생성",
		"jobs.started":      "시작",
		"jobs.finished":     "종료",
		"jobs.took":         "소요",
		"jobs.retry":        "재시도",
		"jobs.retried":      "작업을 다시 대기열에 넣었습니다.",
		"jobs.connecting":   "연결 중…",
		"search.query":      "검색어",
		"search.mode":       "방식",
		"search.topk":       "결과 수",
		"search.run":        "검색",
		"search.results":    "결과",
		"search.none":       "일치하는 결과가 없습니다. 단어를 줄이거나 다른 방식, 필터 없이 해 보세요.",
		"search.start":      "검색어를 입력하세요. 결과마다 벡터 순위, 키워드 순위, 융합 점수와 일치한 용어를 보여 줍니다.",
		"search.vrank":      "벡터 순위",
		"search.krank":      "키워드 순위",
		"search.fused":      "융합 점수",
		"search.matched":    "일치한 용어",
		"search.absent":     "—",
		"ask.title":         "질문",
		"ask.question":      "질문",
		"ask.run":           "질문하기",
		"ask.sources":       "출처",
		"hooks.title":       "웹훅 엔드포인트",
		"hooks.none":        "웹훅 엔드포인트가 없습니다. POST /v1/webhooks로 만드세요.",
		"hooks.url":         "URL",
		"hooks.enabled":     "사용",
		"hooks.disabled":    "사용 안 함",
		"hooks.deliveries":  "최근 전송",
		"hooks.event":       "이벤트",
		"hooks.attempts":    "시도",
		"hooks.last":        "마지막 응답",
		"hooks.retried":     "전송을 다시 대기열에 넣었습니다.",
		"hooks.unavailable": "웹훅이 꺼져 있습니다. PROTOSTAR_SECRET_KEY가 설정되지 않았습니다.",
		"yes":               "예",
		"no":                "아니요",
	},
}

// translate returns message id in lang.
func translate(lang, id string) string {
	if m, ok := catalogue[lang][id]; ok {
		return m
	}
	if m, ok := catalogue["en"][id]; ok {
		return m
	}
	return id
}

// langCookie keeps the language an operator chose with the switch.
const langCookie = "protostar_console_lang"

// language picks the page's language: the switch's cookie, else the best
// of Accept-Language (q-values honoured), else English.
func language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && known(c.Value) {
		return c.Value
	}
	best, bestQ := languages[0], 0.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if known(base) && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}

func known(lang string) bool {
	for _, l := range languages {
		if l == lang {
			return true
		}
	}
	return false
}
