package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	goredis "github.com/redis/go-redis/v9"

	"github.com/protostar/protostar/internal/testenv"
)

// admin runs `protostar args...` on the stack's database, as an operator
// would to bootstrap, and returns its stdout.
func (s *stack) admin(args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = s.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("protostar %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// as sends a request with key, acting for tenant when it is not empty.
func (p *proc) as(method, path, key, tenant string, body any) (int, []byte) {
	p.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, p.URL+path, bytes.NewReader(raw))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tenant != "" {
		req.Header.Set("Protostar-Tenant", tenant)
	}
	a, err := send(p.t, req)
	if err != nil {
		p.t.Fatal(err)
	}
	return a.status, a.body
}

type keyJSON struct {
	Key struct {
		ID, Prefix string
		RevokedAt  *time.Time `json:"revoked_at"`
		LastUsedAt *time.Time `json:"last_used_at"`
	} `json:"key"`
	Secret string `json:"secret"`
}

// TestTenantsAndKeys: a platform key bootstrapped with the CLI creates two
// tenants and a key for each; a tenant key cannot name another tenant
// (403) and sees nothing of it; a revoked key gets 401 from two serve
// replicas within 5 s, and so does the key of a deleted tenant.
func TestTenantsAndKeys(t *testing.T) {
	t.Parallel()
	s := newStack(t, secretKeyEnv, "PROTOSTAR_WEBHOOK_ALLOW_HOSTS=127.0.0.1", "PROTOSTAR_PURGE_INTERVAL=1s")
	p1, p2 := s.start("serve"), s.start("serve")
	w := s.start("worker")
	defer w.Stop()
	var boot keyJSON
	if err := json.Unmarshal([]byte(s.admin("keys", "create", "--platform", "--name", "nestjs", "--json")), &boot); err != nil {
		t.Fatal(err)
	}
	platform := boot.Secret
	for _, id := range []string{"t1", "t2"} {
		if code, body := p1.as(http.MethodPost, "/v1/tenants", platform, "", map[string]string{"id": id, "name": "Tenant " + id}); code != http.StatusCreated {
			t.Fatalf("create tenant %s: %d %s", id, code, short(body))
		}
	}
	checks := []struct {
		name, method, path, key, tenant string
		body                            any
		want                            int
	}{
		{"duplicate tenant", http.MethodPost, "/v1/tenants", platform, "", map[string]string{"id": "t1"}, http.StatusConflict},
		{"tenant key managing tenants", http.MethodPost, "/v1/tenants", keyA, "", map[string]string{"id": "t3"}, http.StatusForbidden},
		{"platform key without a tenant", http.MethodGet, "/v1/documents", platform, "", nil, http.StatusBadRequest},
		{"platform key naming an unknown tenant", http.MethodGet, "/v1/documents", platform, "nope", nil, http.StatusNotFound},
		{"tenant key naming a tenant", http.MethodGet, "/v1/documents", keyA, "beta", nil, http.StatusForbidden},
	}
	for _, c := range checks {
		if code, body := p1.as(c.method, c.path, c.key, c.tenant, c.body); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, short(body), c.want)
		}
	}
	mint := func(tenant string) keyJSON {
		code, body := p1.as(http.MethodPost, "/v1/keys", platform, tenant, map[string]string{"name": tenant + " app"})
		if code != http.StatusCreated {
			t.Fatalf("create key for %s: %d %s", tenant, code, short(body))
		}
		return decode[keyJSON](t, body)
	}
	k1, k2 := mint("t1"), mint("t2")
	if code, body := p1.as(http.MethodGet, "/v1/documents", k1.Secret, "t2", nil); code != http.StatusForbidden {
		t.Fatalf("t1's key naming t2: %d %s, want 403", code, short(body))
	}
	up := p1.mustUpload("t1/private.md", k1.Secret, []byte("# Private\n\nOnly for tenant one.\n"))
	p1.waitJob(up.Job.ID, k1.Secret, time.Minute)
	for _, path := range []string{"/v1/documents/" + up.Document.ID, "/v1/jobs/" + up.Job.ID} {
		if code, _ := p1.get(path, k2.Secret); code != http.StatusNotFound {
			t.Errorf("t2's key GET %s: %d, want 404", path, code)
		}
	}
	if _, body := p1.get("/v1/documents", k2.Secret); bytes.Contains(body, []byte(up.Document.ID)) {
		t.Errorf("t2's listing shows t1's document: %s", short(body))
	}
	if code, body := p1.as(http.MethodGet, "/v1/documents/"+up.Document.ID, platform, "t1", nil); code != http.StatusOK {
		t.Errorf("platform acting for t1: %d %s", code, short(body))
	}
	if out := s.admin("tenants", "list"); !strings.Contains(out, "t1") || !strings.Contains(out, "t2") {
		t.Errorf("tenants list:\n%s", out)
	}

	// Revocation reaches every replica within 5 s.
	if code, body := p2.get("/v1/documents", k1.Secret); code != http.StatusOK { // warm p2's cache
		t.Fatalf("t1's key on the second replica: %d %s", code, short(body))
	}
	if code, body := p1.as(http.MethodDelete, "/v1/keys/"+k1.Key.ID, platform, "t1", nil); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, short(body))
	}
	revokedAt := time.Now()
	for _, p := range []*proc{p1, p2} {
		testenv.WaitFor(t, 5*time.Second, "the revoked key to fail", func() bool {
			code, _ := p.get("/v1/documents", k1.Secret)
			return code == http.StatusUnauthorized
		})
	}
	t.Logf("revoked key refused by both replicas %s after revocation", time.Since(revokedAt).Round(10*time.Millisecond))
	_, body := p1.as(http.MethodGet, "/v1/keys", platform, "t1", nil)
	if !bytes.Contains(body, []byte(k1.Key.Prefix)) || !bytes.Contains(body, []byte(`"revoked_at"`)) || !bytes.Contains(body, []byte(`"last_used_at"`)) {
		t.Errorf("key listing: %s", short(body))
	}
	if bytes.Contains(body, []byte(k1.Secret)) {
		t.Error("the key listing shows a key itself")
	}

	// t2 leaves data everywhere: rows, an uploaded object, cached answers
	// and summaries, a webhook with deliveries.
	rc := newReceiver(t, nil)
	p1.createWebhook(k2.Secret, rc.srv.URL+"/t2")
	up2 := p1.mustUpload("t2/notes.md", k2.Secret, []byte("# Notes\n\nTenant two keeps notes about backups.\n"))
	p1.waitJob(up2.Job.ID, k2.Secret, time.Minute)
	if code, body := p1.do(http.MethodPost, "/v1/answers", k2.Secret, map[string]any{"question": "What about backups?"}); code != http.StatusOK {
		t.Fatalf("answer: %d %s", code, short(body))
	}
	code, body := p1.do(http.MethodPost, "/v1/documents/"+up2.Document.ID+"/summary", k2.Secret, map[string]string{"length": "short"})
	if code != http.StatusAccepted {
		t.Fatalf("summary: %d %s", code, short(body))
	}
	p1.waitJob(decode[summaryJSON](t, body).Job.ID, k2.Secret, time.Minute)
	testenv.WaitFor(t, 30*time.Second, "t2's webhook deliveries", func() bool { return len(rc.requests()) >= 1 })
	if n := len(s.leftovers("t2")); n == 0 {
		t.Fatal("t2 left nothing to delete: the check below would prove nothing")
	}

	// Deleting a tenant stops its keys and, in the background, removes
	// everything of it.
	code, body = p1.as(http.MethodDelete, "/v1/tenants/t2", platform, "", nil)
	if code != http.StatusAccepted {
		t.Fatalf("delete tenant: %d %s", code, short(body))
	}
	deletion := decode[struct {
		Job jobJSON `json:"job"`
	}](t, body).Job
	if code, again := p1.as(http.MethodDelete, "/v1/tenants/t2", platform, "", nil); code != http.StatusAccepted ||
		!bytes.Contains(again, []byte(deletion.ID)) {
		t.Fatalf("deleting again: %d %s, want 202 with the same job", code, short(again))
	}
	testenv.WaitFor(t, 5*time.Second, "the deleted tenant's key to fail", func() bool {
		code, _ := p2.get("/v1/documents", k2.Secret)
		return code == http.StatusUnauthorized
	})
	testenv.WaitFor(t, 5*time.Second, "the deleted tenant to be unknown", func() bool {
		code, _ := p2.as(http.MethodGet, "/v1/documents", platform, "t2", nil)
		return code == http.StatusNotFound
	})
	testenv.WaitFor(t, 60*time.Second, "the tenant deletion job", func() bool {
		code, body := p1.as(http.MethodGet, "/v1/jobs/"+deletion.ID, platform, "", nil)
		if code != http.StatusOK {
			t.Fatalf("platform GET of its job: %d %s", code, short(body))
		}
		deletion = decode[jobJSON](t, body)
		return deletion.Status == "succeeded" || deletion.Status == "failed"
	})
	if deletion.Status != "succeeded" {
		t.Fatalf("tenant deletion job: %+v", deletion)
	}
	if code, body := p1.as(http.MethodGet, "/v1/tenants/t2", platform, "", nil); code != http.StatusOK || !bytes.Contains(body, []byte(`"purged_at"`)) {
		t.Fatalf("deleted tenant: %d %s, want purged_at", code, short(body))
	}
	if left := s.leftovers("t2"); len(left) > 0 {
		t.Fatalf("deleted tenant t2 left behind: %v", left)
	}
}

// leftovers lists what tenant still has: rows in every table with a
// tenant_id, objects under its prefix, and cache keys.
func (s *stack) leftovers(tenant string) []string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY 1`)
	if err != nil {
		s.t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 10 {
		s.t.Fatalf("tables with tenant_id: %v %v", tables, err)
	}
	var out []string
	for _, tb := range tables {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{tb}.Sanitize()+` WHERE tenant_id = $1`, tenant).Scan(&n); err != nil {
			s.t.Fatal(err)
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%d rows in %s", n, tb))
		}
	}
	mc, err := minio.New(s.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.S3.AccessKey, s.S3.SecretKey, "")})
	if err != nil {
		s.t.Fatal(err)
	}
	for obj := range mc.ListObjects(ctx, s.S3.Bucket, minio.ListObjectsOptions{Prefix: tenant + "/", Recursive: true}) {
		out = append(out, "object "+obj.Key)
	}
	opts, err := goredis.ParseURL(s.Redis.URL())
	if err != nil {
		s.t.Fatal(err)
	}
	rc := goredis.NewClient(opts)
	defer rc.Close()
	keys, err := rc.Keys(ctx, "*:"+tenant+":*").Result()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, k := range keys {
		out = append(out, "cache key "+k)
	}
	return out
}
