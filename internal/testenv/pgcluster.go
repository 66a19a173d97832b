package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Postgres is a private PostgreSQL cluster a test can stop and start. The
// server runs as the postgres OS user when the test runs as root.
type Postgres struct {
	t    testing.TB
	bin  string
	data string
	Port int
}

// NewPostgres initialises (but does not start) a private cluster, removed
// when the test ends.
func NewPostgres(t testing.TB) *Postgres {
	t.Helper()
	dir, err := os.MkdirTemp("", "protostar-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{t: t, bin: Env(t, "PROTOSTAR_STACK_PG_BIN"), data: filepath.Join(dir, "data"), Port: Port(t)}
	if os.Geteuid() == 0 {
		_ = os.Chmod(dir, 0o777)
	}
	p.run("initdb", "-D", p.data, "-U", "protostar", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
	t.Cleanup(func() {
		p.Stop()
		_ = os.RemoveAll(dir)
	})
	return p
}

// URL is the connection URL of the cluster's default database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://protostar@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data, "-l", p.data+".log", "-w", "-o",
		fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", p.Port), "start")
}

// Stop stops the server (fast mode); safe to call when stopped.
func (p *Postgres) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = p.command(ctx, "pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop").Run()
}

func (p *Postgres) run(tool string, args ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := p.command(ctx, tool, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", tool, err, out)
	}
}

func (p *Postgres) command(ctx context.Context, tool string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, tool)
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}
