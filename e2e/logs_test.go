package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar/internal/testenv"
)

// dedicatedRole creates a login role with a distinctive password that may
// use the test's (already migrated) database, points s at it, and returns
// the password and a function that runs SQL as the stack's admin.
func dedicatedRole(t *testing.T, s *stack) (role, password string, admin func(sql string)) {
	t.Helper()
	role, password = testenv.Name("logrole_"), "S3cr3t-"+testenv.Name("pw")
	ctx := context.Background()
	exec := func(dsn, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	adminURL := testenv.Env(t, "PROTOSTAR_DATABASE_URL")
	dbURL := s.DBURL
	exec(adminURL, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password))
	exec(dbURL, fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %[1]s;
		GRANT ALL ON ALL TABLES IN SCHEMA public TO %[1]s;
		GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO %[1]s`, role))
	t.Cleanup(func() {
		// Processes stop first (their cleanups were registered later).
		conn, err := pgx.Connect(ctx, dbURL)
		if err == nil {
			_, _ = conn.Exec(ctx, "DROP OWNED BY "+role)
			conn.Close(ctx)
		}
		if conn, err := pgx.Connect(ctx, adminURL); err == nil {
			_, _ = conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
			if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
				t.Logf("drop role %s: %v", role, err)
			}
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	s.DBURL = u.String()
	return role, password, func(sql string) { exec(dbURL, sql) }
}

// secretsIn returns the secrets (named, never printed) that occur in out,
// including any 10-byte window of an API key, which would leak a prefix.
func secretsIn(out string, secrets map[string]string, apiKeys []string) []string {
	var found []string
	for name, v := range secrets {
		if strings.Contains(out, v) {
			found = append(found, name)
		}
	}
	for _, k := range apiKeys {
		for i := 0; i+10 <= len(k); i++ {
			if strings.Contains(out, k[i:i+10]) {
				found = append(found, fmt.Sprintf("10 bytes of an API key at offset %d", i))
				break
			}
		}
	}
	return found
}

// TestSecretsNeverLogged runs `protostar all` at debug level through
// successes, authentication failures with forged keys, a Redis outage and
// a Postgres outage, and checks that no API key (nor a prefix of one), no
// forged key, no database password, no S3 secret key and no provider key
// appears in its output or in any answer.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	role, dbPassword, admin := dedicatedRole(t, s)
	openAIKey := "sk-" + testenv.Name("openai")
	forged := []string{
		keyA[:len(keyA)-1] + "X",                        // one character off
		keyA + "-and-more",                              // a real key as prefix
		keyA[:12] + "forged-forged-forged",              // a real key's first 12 bytes
		"beta-key-0123456789abcdeX",                     // tenant B's key, one off
		strings.ToUpper(keyB),                           // case-folded
		"acme-key-" + strings.Repeat("0", 16),           // right shape, wrong key
		base64.StdEncoding.EncodeToString([]byte(keyA)), // encoded
	}
	secrets := map[string]string{"database password": dbPassword, "S3 secret key": s.S3.SecretKey, "OpenAI key": openAIKey}
	for i, f := range forged {
		secrets[fmt.Sprintf("forged key %d", i)] = f
	}
	apiKeys := []string{keyA, keyB}
	var answers strings.Builder // every answer body, checked like the logs

	p := s.start("all", "PROTOSTAR_OPENAI_API_KEY="+openAIKey, "PROTOSTAR_LOG_LEVEL=debug", "PROTOSTAR_LOG_FORMAT=json",
		"PROTOSTAR_DISPATCH_INTERVAL=200ms")
	// call sends a request with an exact Authorization header (none if
	// empty) and keeps the answer for the final check.
	call := func(method, path, auth string, body any) int {
		t.Helper()
		var r io.Reader
		if body != nil {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			r = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(method, p.URL+path, r)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		a, err := send(t, req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		answers.Write(a.body)
		return a.status
	}

	// Successes.
	acc := p.mustUpload("notes/ops.md", keyA, []byte("# Ops\n\nRotate the on-call roster weekly. 당직 순번은 매주 바뀐다.\n"))
	p.waitJob(acc.Job.ID, keyA, 60*time.Second)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/v1/search", map[string]any{"query": "on-call roster"}},
		{http.MethodPost, "/v1/answers", map[string]any{"question": "How often does the roster rotate?"}},
		{http.MethodPost, "/v1/documents/" + acc.Document.ID + "/summary", map[string]any{"length": "short"}},
		{http.MethodGet, "/v1/documents", nil},
		{http.MethodGet, "/v1/jobs", nil},
	} {
		if code := call(c.method, c.path, "Bearer "+keyA, c.body); code >= 400 {
			t.Fatalf("%s %s = %d", c.method, c.path, code)
		}
	}
	// Authentication failures with forged keys, keys in the wrong place and
	// the wrong scheme.
	for _, f := range forged {
		if code := call(http.MethodGet, "/v1/documents", "Bearer "+f, nil); code != http.StatusUnauthorized {
			t.Errorf("a forged key got %d, want 401", code)
		}
	}
	for _, auth := range []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("acme:"+keyA)), "Token " + keyA, keyA, "Bearer  " + keyB} {
		if code := call(http.MethodGet, "/v1/jobs", auth, nil); code != http.StatusUnauthorized {
			t.Errorf("a malformed Authorization header got %d, want 401", code)
		}
	}
	call(http.MethodGet, "/v1/documents?api_key="+keyA+"&access_token="+keyB, "", nil)

	// A failing dependency: Redis goes away while work is submitted,
	// answered and summarised.
	s.Redis.Kill()
	up := p.mustUpload("notes/outage.md", keyA, []byte("# Outage\n\nRedis is down.\n"))
	call(http.MethodPost, "/v1/answers", "Bearer "+keyA, map[string]any{"question": "What is down?"})
	call(http.MethodPost, "/v1/documents/"+acc.Document.ID+"/summary", "Bearer "+keyA, map[string]any{"length": "long"})
	call(http.MethodGet, "/readyz", "", nil)
	time.Sleep(1500 * time.Millisecond) // the outbox retries and logs
	s.Redis.Restart(t)
	p.waitJob(up.Job.ID, keyA, 60*time.Second)

	// A failing database: the role may no longer log in and its sessions
	// are ended, so every pool connection fails to authenticate.
	admin(fmt.Sprintf("ALTER ROLE %s NOLOGIN", role))
	admin(fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'", role))
	for _, path := range []string{"/v1/documents", "/v1/jobs/" + acc.Job.ID} {
		if code := call(http.MethodGet, path, "Bearer "+keyA, nil); code < 500 {
			t.Logf("GET %s with the database refusing logins = %d", path, code)
		}
	}
	call(http.MethodPost, "/v1/search", "Bearer "+keyB, map[string]any{"query": "roster"})
	// Dependencies are probed in the background (every 2 s), not per request.
	testenv.WaitFor(t, 10*time.Second, "readyz 503 with the database refusing logins", func() bool {
		return call(http.MethodGet, "/readyz", "", nil) == http.StatusServiceUnavailable
	})
	time.Sleep(500 * time.Millisecond)
	p.Stop()

	logs := p.Logs()
	if !strings.Contains(logs, "request failed") || !strings.Contains(logs, `"level":"DEBUG"`) {
		t.Errorf("the logs lack the failures or debug lines this test means to check:\n%s", logs)
	}
	if found := secretsIn(logs, secrets, apiKeys); len(found) > 0 {
		t.Errorf("the logs contain secrets: %v", found)
	}
	if found := secretsIn(answers.String(), secrets, apiKeys); len(found) > 0 {
		t.Errorf("answers contain secrets: %v", found)
	}
}

// TestConfigDumpMasksSecrets: `protostar config` shows every setting but no
// secret: not the database password (in the URL's user info or as a DSN
// parameter), nor the Redis password, the S3 secret key, the provider key
// or any API key.
func TestConfigDumpMasksSecrets(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	openAIKey := "sk-" + testenv.Name("openai")
	dbPassword, redisPassword, dsnPassword := "S3cr3t-"+testenv.Name("pw"), "R3dis-"+testenv.Name("pw"), "Dsn-"+testenv.Name("pw")
	secrets := map[string]string{"database password": dbPassword, "S3 secret key": s.S3.SecretKey, "OpenAI key": openAIKey,
		"Redis password": redisPassword, "DSN password parameter": dsnPassword}
	u, err := url.Parse(s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	var all strings.Builder
	for _, env := range [][]string{
		{fmt.Sprintf("PROTOSTAR_DATABASE_URL=postgres://someone:%s@%s/%s?sslmode=disable", dbPassword, u.Host, dbName)},
		{fmt.Sprintf("PROTOSTAR_DATABASE_URL=postgres://%s/%s?user=someone&password=%s&sslmode=disable", u.Host, dbName, dsnPassword),
			fmt.Sprintf("PROTOSTAR_REDIS_URL=redis://default:%s@127.0.0.1:%d/0", redisPassword, s.Redis.Port)},
	} {
		cmd := exec.Command(binary, "config")
		cmd.Env = append(append(s.env(), "PROTOSTAR_OPENAI_API_KEY="+openAIKey), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("protostar config: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "PROTOSTAR_API_KEYS=acme:****,beta:****") {
			t.Errorf("protostar config does not show the tenants with masked keys:\n%s", out)
		}
		all.Write(out)
	}
	if found := secretsIn(all.String(), secrets, []string{keyA, keyB}); len(found) > 0 {
		t.Errorf("protostar config prints secrets: %v", found)
	}
}
