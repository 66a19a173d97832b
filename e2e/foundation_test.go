package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protostar/protostar/internal/testenv"
)

type readiness struct {
	Status string `json:"status"`
	Checks map[string]struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"checks"`
}

func TestReadinessSurvivesRedisOutage(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	p := s.start("serve")

	waitReady := func(want string, wantCode int) {
		t.Helper()
		testenv.WaitFor(t, 20*time.Second, "readyz "+want, func() bool {
			code, body := p.get("/readyz", "")
			return code == wantCode && decode[readiness](t, body).Status == want
		})
	}
	waitReady("ok", http.StatusOK)

	s.Redis.Kill()
	waitReady("degraded", http.StatusOK)
	_, body := p.get("/readyz", "")
	if r := decode[readiness](t, body); r.Checks["redis"].Status != "down" || r.Checks["postgres"].Status != "ok" {
		t.Fatalf("readyz during outage = %+v", r)
	}
	if code, _ := p.get("/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz during redis outage = %d", code)
	}

	s.Redis.Restart(t)
	waitReady("ok", http.StatusOK)
	if p.Exited() {
		t.Fatal("process exited during the redis outage")
	}
}

func TestWaitsForPostgresAtStart(t *testing.T) {
	t.Parallel()
	pg := testenv.NewPostgres(t)
	s := newStack(t)
	s.DBURL = strings.Replace(pg.URL(), "/postgres?", "/protostar?", 1)

	p := s.spawn("serve")
	testenv.WaitFor(t, 10*time.Second, "healthz while postgres is down", func() bool {
		code, _ := p.get("/healthz", "")
		return code == http.StatusOK
	})
	time.Sleep(time.Second)
	if code, _ := p.get("/readyz", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while postgres is down = %d, want 503", code)
	}
	if p.Exited() {
		t.Fatal("serve exited while postgres was unreachable")
	}

	pg.Start()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE protostar"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	s.migrate()

	testenv.WaitFor(t, 30*time.Second, "readyz ok after postgres came up", func() bool {
		code, _ := p.get("/readyz", "")
		return code == http.StatusOK
	})
	if !p.logged("waiting for dependency") {
		t.Errorf("expected logged retry attempts, logs:\n%s", p.Logs())
	}
}

// TestNotReadyUntilStarted: while start-up still migrates (here it cannot:
// the schema's history lacks a migration older than its newest, which
// goose refuses) /healthz answers and /readyz does not. /readyz said ok
// from the first probe, so a load balancer, or the TypeScript suite's
// harness, sent requests to an API whose workers never started.
func TestNotReadyUntilStarted(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = 14`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := s.spawn("all", "PROTOSTAR_MIGRATE_ON_START=true", "PROTOSTAR_DATABASE_WAIT_TIMEOUT=2m")
	testenv.WaitFor(t, 10*time.Second, "healthz during start-up", func() bool {
		code, _ := p.get("/healthz", "")
		return code == http.StatusOK
	})
	testenv.WaitFor(t, 10*time.Second, "start-up waiting on the migrations", func() bool { return p.logged("waiting for dependency") })
	code, body := p.get("/readyz", "")
	if r := decode[readiness](t, body); code != http.StatusServiceUnavailable || r.Checks["http"].Status != "down" {
		t.Fatalf("readyz during start-up = %d %s, want 503 with http down", code, body)
	}
}
