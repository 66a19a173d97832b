package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/protostar/protostar/internal/testenv"
)

// hostileCase is one request of testdata/hostile/*.json; see the README
// there for the format.
type hostileCase struct {
	Name       string            `json:"name"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Headers    map[string]string `json:"headers"`
	Body       *bodySpec         `json:"body"`
	Multipart  []partSpec        `json:"multipart"`
	WantStatus int               `json:"want_status"`
	WantEmpty  string            `json:"want_empty"` // inert cases: this result list must be empty
	Note       string            `json:"note"`
}

type partSpec struct {
	Name     string    `json:"name"`
	Filename string    `json:"filename"`
	Body     *bodySpec `json:"body"`
}

// bodySpec is a literal string (placeholders resolved), or an object:
// {"base64": …} for bytes that are not UTF-8, {"repeat": unit, "times": n}
// for huge bodies, or {"concat": [spec, …]}.
type bodySpec struct {
	text   *string
	Base64 string     `json:"base64"`
	Repeat string     `json:"repeat"`
	Times  int        `json:"times"`
	Concat []bodySpec `json:"concat"`
}

func (b *bodySpec) UnmarshalJSON(raw []byte) error {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		b.text = &s
		return nil
	}
	type plain bodySpec
	return json.Unmarshal(raw, (*plain)(b))
}

func (b *bodySpec) bytes(resolve func(string) string) ([]byte, error) {
	switch {
	case b == nil:
		return nil, nil
	case b.text != nil:
		return []byte(resolve(*b.text)), nil
	case b.Base64 != "":
		return base64.StdEncoding.DecodeString(b.Base64)
	case b.Repeat != "":
		return bytes.Repeat([]byte(b.Repeat), b.Times), nil
	case b.Concat != nil:
		var out []byte
		for _, part := range b.Concat {
			p, err := part.bytes(resolve)
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("empty body spec")
}

func loadCases(t *testing.T, path string) []hostileCase {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		About string        `json:"about"`
		Cases []hostileCase `json:"cases"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	seen := map[string]bool{}
	for _, c := range file.Cases {
		if c.Name == "" || seen[c.Name] || c.Method == "" || c.Path == "" || c.WantStatus == 0 {
			t.Fatalf("%s: case %q needs a unique name, method, path and want_status", path, c.Name)
		}
		seen[c.Name] = true
	}
	return file.Cases
}

// fixtures are tenant A's ids and secrets that cases and probes refer to.
type fixtures map[string]string

func (f fixtures) resolve(s string) string {
	for k, v := range f {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// request builds the case's request; Authorization defaults to tenant A's
// key, and an empty Authorization header in the case means none is sent.
func (c hostileCase) request(ctx context.Context, baseURL string, f fixtures) (*http.Request, error) {
	var body []byte
	contentType := ""
	if c.Multipart != nil {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for _, part := range c.Multipart {
			content, err := part.Body.bytes(f.resolve)
			if err != nil {
				return nil, err
			}
			var pw io.Writer
			if part.Filename != "" {
				pw, err = w.CreateFormFile(part.Name, part.Filename)
			} else {
				pw, err = w.CreateFormField(part.Name)
			}
			if err != nil {
				return nil, err
			}
			_, _ = pw.Write(content)
		}
		_ = w.Close()
		body, contentType = buf.Bytes(), w.FormDataContentType()
	} else {
		var err error
		if body, err = c.Body.bytes(f.resolve); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, baseURL+f.resolve(c.Path), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+f["keyA"])
	for k, v := range c.Headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, f.resolve(v))
	}
	return req, nil
}

// noRedirects is a client that shows redirects instead of following them:
// an API answer to a hostile request is a 4xx, never a 3xx.
var noRedirects = &http.Client{
	Timeout:       60 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func send(t *testing.T, req *http.Request) (answer, error) {
	t.Helper()
	resp, err := noRedirects.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, err
}

// checkProblem asserts an RFC 9457 problem answer with the given status.
func checkProblem(a answer, want int) error {
	if a.status != want {
		return fmt.Errorf("status %d, want %d: %s", a.status, want, short(a.body))
	}
	if a.status < 400 || a.status > 499 {
		return fmt.Errorf("status %d is not a 4xx", a.status)
	}
	if mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type")); mt != "application/problem+json" {
		return fmt.Errorf("Content-Type %q, want application/problem+json: %s", a.header.Get("Content-Type"), short(a.body))
	}
	var p struct {
		Status *int    `json:"status"`
		Detail *string `json:"detail"`
	}
	if err := json.Unmarshal(a.body, &p); err != nil {
		return fmt.Errorf("problem body is not JSON: %v: %s", err, short(a.body))
	}
	if p.Status == nil || *p.Status != a.status || p.Detail == nil || *p.Detail == "" {
		return fmt.Errorf("problem body lacks status %d or a detail: %s", a.status, short(a.body))
	}
	return nil
}

// seedTenantA uploads and indexes one document of tenant A and returns the
// fixtures that cases refer to.
func seedTenantA(t *testing.T, p *proc) fixtures {
	t.Helper()
	const objKey = "secret/initech-plan.md"
	acc := p.mustUpload(objKey, keyA, []byte("# Initech plan\n\nThe acquisition of Initech closes in March; backup the ledger first. "+
		"인수 계획은 비밀이다.\n\n## Backup\n\nNightly backup of the ledger database to cold storage.\n"))
	if j := p.waitJob(acc.Job.ID, keyA, 60*time.Second); j.Status != "succeeded" {
		t.Fatalf("seed ingest job = %+v", j)
	}
	forged := []byte(keyA)
	forged[len(forged)-1] ^= 1
	return fixtures{
		"keyA":       keyA,
		"keyB":       keyB,
		"keyAPrefix": keyA[:len(keyA)-1],
		"keyAForged": string(forged),
		"basicA":     base64.StdEncoding.EncodeToString([]byte("acme:" + keyA)),
		"docA":       acc.Document.ID,
		"jobA":       acc.Job.ID,
		"objA":       objKey,
	}
}

// stateSnapshot fingerprints everything a request could change: every
// table's rows (or only one tenant's, where a table has tenant_id) and the
// objects in the bucket.
type stateSnapshot struct {
	Tables  map[string]string
	Objects map[string]string
}

func snapshot(t *testing.T, s *stack, tenant string) stateSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	waitTermStatsFolded(ctx, t, conn, tenant)
	rows, err := conn.Query(ctx, `SELECT t.tablename, EXISTS (SELECT 1 FROM information_schema.columns c
		WHERE c.table_schema = 'public' AND c.table_name = t.tablename AND c.column_name = 'tenant_id')
		FROM pg_tables t WHERE t.schemaname = 'public' AND t.tablename <> 'goose_db_version' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	type table struct {
		Name     string
		ByTenant bool
	}
	tables, err := pgx.CollectRows(rows, pgx.RowToStructByPos[table])
	if err != nil || len(tables) == 0 {
		t.Fatalf("list tables: %v (%d)", err, len(tables))
	}
	snap := stateSnapshot{Tables: map[string]string{}, Objects: map[string]string{}}
	for _, tb := range tables {
		where := ""
		switch {
		case tenant != "" && tb.ByTenant:
			where = "WHERE r.tenant_id = $1"
		case tenant != "" && tb.Name == "chunk_embeddings": // a tenant's through its chunks
			where = "WHERE r.chunk_id IN (SELECT id FROM chunks WHERE tenant_id = $1)"
		}
		q := fmt.Sprintf(`SELECT count(*) || ' rows ' || coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text)), '')
			FROM %s r %s`, pgx.Identifier{tb.Name}.Sanitize(), where)
		args := []any{}
		if where != "" {
			args = append(args, tenant)
		}
		var fp string
		if err := conn.QueryRow(ctx, q, args...).Scan(&fp); err != nil {
			t.Fatalf("fingerprint %s: %v", tb.Name, err)
		}
		snap.Tables[tb.Name] = fp
	}
	mc, err := minio.New(s.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.S3.AccessKey, s.S3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	for obj := range mc.ListObjects(ctx, s.S3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list bucket: %v", obj.Err)
		}
		snap.Objects[obj.Key] = fmt.Sprintf("%d %s", obj.Size, obj.ETag)
	}
	return snap
}

// waitTermStatsFolded waits until the outbox loop has folded the
// tenant's (every tenant's, for "") keyword-statistics changes: a fold
// moves rows from term_stat_changes into term_stats in the background,
// and a snapshot taken before it would see that maintenance as a change
// made by whatever ran between two snapshots.
func waitTermStatsFolded(ctx context.Context, t *testing.T, conn *pgx.Conn, tenant string) {
	t.Helper()
	err := testenv.Poll(ctx, 20*time.Second, "the keyword statistics to be folded", func() (bool, error) {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM term_stat_changes WHERE $1 = '' OR tenant_id = $1`, tenant).Scan(&n)
		return n == 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHostileRequests(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all", "PROTOSTAR_MAX_JSON_BYTES=65536", "PROTOSTAR_MAX_UPLOAD_BYTES=262144")
	f := seedTenantA(t, p)
	before := snapshot(t, s, "")

	cases := loadCases(t, "../testdata/hostile/cases.json")
	if len(cases) < 50 {
		t.Fatalf("only %d hostile cases; the suite promises at least 50", len(cases))
	}
	for _, c := range cases {
		if c.WantStatus < 400 || c.WantStatus > 499 {
			t.Fatalf("case %s: want_status %d; hostile cases must expect a 4xx (valid hostile input goes to inert.json)", c.Name, c.WantStatus)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		req, err := c.request(ctx, p.URL, f)
		if err != nil {
			cancel()
			t.Fatalf("case %s: build request: %v", c.Name, err)
		}
		a, err := send(t, req)
		cancel()
		if err != nil {
			t.Errorf("case %s: %s %s: %v", c.Name, c.Method, c.Path, err)
			continue
		}
		if err := checkProblem(a, c.WantStatus); err != nil {
			t.Errorf("case %s: %s %s: %v", c.Name, c.Method, truncPath(c.Path), err)
		}
		for _, secret := range []string{keyA, keyB} {
			if bytes.Contains(a.body, []byte(secret)) {
				t.Errorf("case %s: the answer echoes an API key: %s", c.Name, truncate(a.body))
			}
		}
		// A problem quotes short excerpts of input at most, never all of it.
		if len(a.body) > 2048 {
			t.Errorf("case %s: a %d-byte problem echoes the input: %s", c.Name, len(a.body), truncate(a.body))
		}
	}

	for _, c := range loadCases(t, "../testdata/hostile/inert.json") {
		if c.WantStatus < 200 || c.WantStatus > 299 || (c.Method != http.MethodGet && !slices.Contains([]string{"/v1/search", "/v1/answers"}, c.Path)) {
			t.Fatalf("inert case %s must be a read-only request expecting a 2xx", c.Name)
		}
		req, err := c.request(context.Background(), p.URL, f)
		if err != nil {
			t.Fatalf("inert case %s: %v", c.Name, err)
		}
		a, err := send(t, req)
		if err != nil || a.status != c.WantStatus {
			t.Errorf("inert case %s: %d %v %s, want %d", c.Name, a.status, err, truncate(a.body), c.WantStatus)
			continue
		}
		if c.WantEmpty != "" {
			var res map[string]json.RawMessage
			if err := json.Unmarshal(a.body, &res); err != nil || string(res[c.WantEmpty]) != "[]" {
				t.Errorf("inert case %s: %s must be empty: %s", c.Name, c.WantEmpty, truncate(a.body))
			}
		}
	}

	if diff := cmp.Diff(before, snapshot(t, s, "")); diff != "" {
		t.Errorf("hostile requests changed the state (-before +after):\n%s", diff)
	}
	if r := p.search(keyA, map[string]any{"query": "ledger backup", "top_k": 3}); len(r.Results) == 0 || r.Results[0].DocumentID != f["docA"] {
		t.Errorf("a normal search after the hostile requests found %+v", r.Results)
	}
	if code, _ := p.get("/readyz", ""); code != http.StatusOK {
		t.Errorf("readyz after the hostile requests = %d", code)
	}
	for _, bad := range []string{"handler panic", "request failed"} {
		if p.logged(bad) {
			t.Errorf("server logged %q during hostile requests", bad)
		}
	}
}

// short keeps failure messages readable when a case's body is huge.
func short(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func truncPath(p string) string {
	if len(p) > 120 {
		return p[:120] + "…"
	}
	return p
}

// TestHeadingBomb: 1 MiB of "# a\n" through the whole pipeline becomes
// about 12,000 chunks (one per 64+ tokens), not 262,144.
func TestHeadingBomb(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("all")
	acc := p.mustUpload("hostile/heading-bomb.md", keyA, bytes.Repeat([]byte("# a\n"), 1<<18))
	if j := p.waitJob(acc.Job.ID, keyA, 120*time.Second); j.Status != "succeeded" {
		t.Fatalf("job = %+v", j)
	}
	d := p.doc(acc.Document.ID, keyA)
	if d.Status != "ready" || d.ChunkCount == 0 || d.ChunkCount > 16384 {
		t.Fatalf("document = %+v, want ready with at most 16384 chunks (one per 64 tokens; was 262,144)", d)
	}
}
