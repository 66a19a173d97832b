package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliCorpus is written under notes/ of a temporary folder: three Markdown
// files in a subfolder, Korean and English.
var cliCorpus = map[string]string{
	"notes/backup.ko.md": "---\ntitle: 백업 정책\nteam: infra\n---\n# 백업 정책\n\n" +
		"데이터베이스 백업은 매일 새벽 3시에 실행한다. WAL은 오브젝트 스토리지로 연속 아카이빙한다.\n\n" +
		"## 복구 훈련\n\n복구 훈련은 분기마다 한 번 한다. 목표 복구 시간은 1시간이다.\n",
	"notes/api/errors.md": "# API errors\n\nEvery error is an RFC 9457 problem document.\n\n" +
		"## Rate limits\n\nClients must honour the Retry-After header of a 429 answer with backoff.\n",
	"notes/release.md": "# Release process\n\nWe release on Tuesdays and Thursdays.\n\n" +
		"## 롤백\n\n에러율이 2%를 넘으면 이전 태그로 즉시 롤백한다.\n",
}

// writeCLICorpus writes cliCorpus into a new temporary folder and returns it.
func writeCLICorpus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range cliCorpus {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runCLI runs `protostar args...` against p as tenant A, with a pipe (not
// a terminal) for stdout, and returns the exit code and output.
func runCLI(t *testing.T, p *proc, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PROTOSTAR_URL=" + p.URL, "PROTOSTAR_API_KEY=" + keyA}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run protostar %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errb.String()
}

// tableRows parses a tabwriter table into rows of fields keyed by the
// first column. It stops at the first blank line after the header.
func tableRows(t *testing.T, out, header string) map[string][]string {
	t.Helper()
	i := strings.Index(out, header)
	if i < 0 {
		t.Fatalf("no table with header %q in:\n%s", header, out)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out[i:], "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		rows[f[0]] = f
	}
	return rows
}

// readyDocuments returns tenant A's documents by key, failing unless each
// of keys is ready with chunks.
func readyDocuments(t *testing.T, p *proc, keys []string) map[string]docJSON {
	t.Helper()
	byKey := listDocuments(t, p)
	for _, k := range keys {
		if d, ok := byKey[k]; !ok || d.Status != "ready" || d.ChunkCount == 0 {
			t.Errorf("document %s = %+v, want ready with chunks", k, d)
		}
	}
	return byKey
}

// listDocuments returns tenant A's documents (up to 100) by key.
func listDocuments(t *testing.T, p *proc) map[string]docJSON {
	t.Helper()
	code, body := p.get("/v1/documents?limit=100", keyA)
	if code != http.StatusOK {
		t.Fatalf("list documents: %d %s", code, body)
	}
	byKey := map[string]docJSON{}
	for _, d := range decode[struct{ Documents []docJSON }](t, body).Documents {
		byKey[d.Key] = d
	}
	return byKey
}

func cliKeys() []string {
	var keys []string
	for k := range cliCorpus {
		keys = append(keys, strings.TrimPrefix(k, "notes/"))
	}
	return keys
}

func TestCLIIngestFolder(t *testing.T) {
	s := newStack(t)
	p := s.start("all")
	dir := writeCLICorpus(t)
	folder := filepath.Join(dir, "notes")
	keys := cliKeys() // relative to the folder: api/errors.md, backup.ko.md, release.md

	t.Run("table", func(t *testing.T) {
		code, out, errOut := runCLI(t, p, "ingest", folder)
		if code != 0 {
			t.Fatalf("ingest exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		readyDocuments(t, p, keys)
		rows := tableRows(t, out, "KEY")
		if len(rows) != len(keys) {
			t.Errorf("table has %d rows, want %d:\n%s", len(rows), len(keys), out)
		}
		for _, k := range keys {
			row := rows[k]
			if len(row) < 3 || row[1] != "ready" || row[2] == "0" {
				t.Errorf("table row of %s = %q, want ready with chunks:\n%s", k, row, out)
			}
			if !strings.Contains(out, "ready   "+k+" (") {
				t.Errorf("no progress line for %s in:\n%s", k, out)
			}
		}
		if strings.Contains(out, "\r") || strings.Contains(out, "▕") {
			t.Errorf("output to a pipe has terminal progress:\n%q", out)
		}
	})

	t.Run("json", func(t *testing.T) {
		before := listDocuments(t, p)
		code, out, errOut := runCLI(t, p, "ingest", folder, "--json")
		if code != 0 {
			t.Fatalf("ingest --json exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		var res struct {
			Documents []struct {
				Key        string `json:"key"`
				DocumentID string `json:"document_id"`
				JobID      string `json:"job_id"`
				Status     string `json:"status"`
				Chunks     int    `json:"chunks"`
				Error      string `json:"error"`
			} `json:"documents"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("stdout is not one JSON document (%v):\n%s", err, out)
		}
		docs := readyDocuments(t, p, keys)
		if len(res.Documents) != len(keys) {
			t.Fatalf("JSON lists %d documents, want %d:\n%s", len(res.Documents), len(keys), out)
		}
		for _, r := range res.Documents {
			d := docs[r.Key]
			if r.Status != "ready" || r.Chunks == 0 || r.Error != "" || r.DocumentID != d.ID || r.JobID == "" {
				t.Errorf("JSON entry %+v, want ready with chunks for document %s", r, d.ID)
			}
			if want := before[r.Key].Version + 1; d.Version != want {
				t.Errorf("document %s is at version %d after ingesting it again, want %d", r.Key, d.Version, want)
			}
		}
	})
}

func TestCLIQueryCommands(t *testing.T) {
	s := newStack(t)
	p := s.start("all")
	dir := writeCLICorpus(t)
	if code, out, errOut := runCLI(t, p, "ingest", dir); code != 0 {
		t.Fatalf("ingest exited %d\n%s\n%s", code, out, errOut)
	}
	keys := []string{"notes/backup.ko.md", "notes/api/errors.md", "notes/release.md"}
	docs := readyDocuments(t, p, keys)

	t.Run("search", func(t *testing.T) {
		code, out, errOut := runCLI(t, p, "search", "데이터베이스를 백업", "--json", "--top-k", "3", "--prefix", "notes/")
		var res struct{ Results []struct{ Key string } }
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res.Results) == 0 || res.Results[0].Key != "notes/backup.ko.md" {
			t.Fatalf("search --json = %d (%v)\n%s\n%s", code, err, out, errOut)
		}
		code, out, _ = runCLI(t, p, "search", "Retry-After", "--mode", "keyword")
		if code != 0 || !strings.HasPrefix(out, " 1. ") || !strings.Contains(out, "notes/api/errors.md › API errors") {
			t.Errorf("search = %d:\n%s", code, out)
		}
		if code, _, _ = runCLI(t, p, "search", "x", "--prefix", "none/"); code != 0 {
			t.Errorf("search without results exited %d", code)
		}
	})

	t.Run("docs", func(t *testing.T) {
		code, out, _ := runCLI(t, p, "docs", "--status", "ready", "--limit", "1", "--all")
		rows := tableRows(t, out, "ID")
		if code != 0 || len(rows) != len(keys) {
			t.Fatalf("docs --all = %d with %d rows, want %d:\n%s", code, len(rows), len(keys), out)
		}
		for _, k := range keys {
			if row := rows[docs[k].ID]; len(row) < 5 || row[1] != k || row[2] != "ready" {
				t.Errorf("docs row of %s = %q", k, row)
			}
		}
		code, out, errOut := runCLI(t, p, "docs", "--limit", "2", "--json")
		var page struct {
			Documents  []docJSON `json:"documents"`
			NextCursor string    `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Documents) != 2 || page.NextCursor == "" {
			t.Errorf("docs --json = %d (%v)\n%s\n%s", code, err, out, errOut)
		}
	})

	t.Run("jobs", func(t *testing.T) {
		code, out, _ := runCLI(t, p, "jobs", "--status", "succeeded")
		rows := tableRows(t, out, "ID")
		if code != 0 || len(rows) != len(keys) {
			t.Fatalf("jobs = %d with %d rows, want %d:\n%s", code, len(rows), len(keys), out)
		}
		for id, row := range rows {
			if len(row) < 5 || row[1] != "ingest" || row[2] != "succeeded" || !strings.Contains(row[4], "/") {
				t.Errorf("jobs row of %s = %q", id, row)
			}
		}
	})

	t.Run("ask", func(t *testing.T) {
		code, out, errOut := runCLI(t, p, "ask", "데이터베이스 백업은 언제 실행하나요?")
		if code != 0 || !strings.Contains(out, "새벽 3시") || !strings.Contains(out, "\nSources:\n[") ||
			!strings.Contains(out, "notes/backup.ko.md › 백업 정책") {
			t.Errorf("ask = %d:\n%s\n%s", code, out, errOut)
		}
		code, out, _ = runCLI(t, p, "ask", "데이터베이스 백업은 언제 실행하나요?", "--json")
		var a struct {
			Answer    string
			Citations []struct{ Key string }
		}
		if err := json.Unmarshal([]byte(out), &a); code != 0 || err != nil || len(a.Citations) == 0 || a.Citations[0].Key != "notes/backup.ko.md" {
			t.Errorf("ask --json = %d (%v):\n%s", code, err, out)
		}
	})

	t.Run("summarize", func(t *testing.T) {
		code, out, errOut := runCLI(t, p, "summarize", "notes/backup.ko.md", "--length", "short")
		if code != 0 || !strings.Contains(out, "short summary of notes/backup.ko.md") {
			t.Fatalf("summarize = %d:\n%s\n%s", code, out, errOut)
		}
		code, out, _ = runCLI(t, p, "summarize", docs["notes/backup.ko.md"].ID, "--length", "short", "--json")
		var sum struct {
			Summary    string
			Cached     bool
			DocumentID string `json:"document_id"`
		}
		if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil || sum.Summary == "" || !sum.Cached ||
			sum.DocumentID != docs["notes/backup.ko.md"].ID {
			t.Errorf("second summarize --json = %d (%v):\n%s", code, err, out)
		}
		if code, _, errOut = runCLI(t, p, "summarize", "notes/missing.md"); code != 1 || !strings.Contains(errOut, "no document with key") {
			t.Errorf("summarize of a missing key = %d, stderr %q", code, errOut)
		}
	})
}
