package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// PickPort is FreePort for callers without a testing.TB.
func PickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Terminate stops a process as a service manager would: SIGTERM, then
// SIGKILL if done has not closed within grace. done must close when the
// process has exited. It reports whether the process had to be killed.
func Terminate(p *os.Process, done <-chan struct{}, grace time.Duration) (killed bool) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return false
	case <-time.After(grace):
		_ = p.Kill()
		<-done
		return true
	}
}

// WaitFor polls cond every 50ms until it is true or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// Redis is a private redis-server process that a test can stop and start.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	Port int
	cmd  *exec.Cmd
}

// NewRedis starts a private Redis (AOF on, noeviction) and stops it when
// the test ends.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: Env(t, "PROTOSTAR_STACK_REDIS_BIN"), dir: t.TempDir(), Port: FreePort(t)}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the redis:// URL of the instance.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Start starts the server (again) on the same port and data directory.
func (r *Redis) Start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--maxmemory-policy", "noeviction", "--save", "")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis: %v", err)
	}
	WaitFor(r.t, 10*time.Second, "redis to listen", func() bool { return portOpen(r.Port) })
}

// Stop kills the server and waits for it; safe to call when stopped.
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

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
	p := &Postgres{t: t, bin: Env(t, "PROTOSTAR_STACK_PG_BIN"), data: filepath.Join(dir, "data"), Port: FreePort(t)}
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
