package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Command describes a server process: what to run, its whole environment
// (nothing is inherited), where its output goes and how to tell that it is
// ready.
type Command struct {
	Name    string   // for messages, e.g. "serve-1" or "redis"
	Path    string   // the executable
	Args    []string // its arguments
	Env     []string // its environment; nil runs it with none
	LogPath string   // stdout and stderr are appended here, one header per start
	// Ready reports whether the process serves; nil means as soon as it
	// runs. It is polled until it returns true or an error.
	Ready func(ctx context.Context) (bool, error)
}

// Process is a server process that a test or the benchmark can start, stop,
// kill and start again with the same command line (so on the same port), as
// a service manager would. Every start dies with the process that started
// it (Pdeathsig), so an interrupted suite leaves nothing running.
type Process struct {
	cmd Command

	mu      sync.Mutex
	running *exec.Cmd
	done    chan struct{}
	exitErr error
	starts  int
}

// NewProcess returns a process for c; it does not start it.
func NewProcess(c Command) *Process { return &Process{cmd: c} }

// Name is the process's name.
func (p *Process) Name() string { return p.cmd.Name }

// LogPath is the file the process's output is appended to.
func (p *Process) LogPath() string { return p.cmd.LogPath }

// Start spawns the process without waiting for it to be ready. Starting a
// running process is a no-op.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running != nil && !closed(p.done) {
		return nil
	}
	f, err := os.OpenFile(p.cmd.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.cmd.Name, err)
	}
	p.starts++
	fmt.Fprintf(f, "=== start #%d of %s at %s ===\n", p.starts, p.cmd.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.cmd.Path, p.cmd.Args...)
	cmd.Env = p.cmd.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("start %s: %w", p.cmd.Name, err)
	}
	done := make(chan struct{})
	go p.reap(cmd, f, done)
	p.running, p.done, p.exitErr = cmd, done, nil
	return nil
}

// ReaperFunc names the goroutine that waits for a running process, for
// goroutine-leak checks that run while a dependency's process still runs:
// goleak.IgnoreAnyFunction(testenv.ReaperFunc).
const ReaperFunc = "github.com/protostar/protostar/internal/testenv.(*Process).reap"

// reap waits for cmd to exit, records how, and closes done.
func (p *Process) reap(cmd *exec.Cmd, log *os.File, done chan struct{}) {
	err := cmd.Wait()
	_ = log.Close()
	p.mu.Lock()
	p.exitErr = err
	p.mu.Unlock()
	close(done)
}

// WaitReady polls the command's Ready until it is true. It fails at once
// if the process exits, showing the end of its log.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration) error {
	return Poll(ctx, timeout, p.cmd.Name+" to be ready", func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("%s exited (%v):\n%s", p.cmd.Name, p.ExitErr(), p.Tail(30))
		}
		if p.cmd.Ready == nil {
			return true, nil
		}
		ok, err := p.cmd.Ready(ctx)
		if err != nil {
			return false, fmt.Errorf("%s: %w", p.cmd.Name, err)
		}
		return ok, nil
	})
}

// StartReady starts the process and waits until it is ready.
func (p *Process) StartReady(ctx context.Context, timeout time.Duration) error {
	if err := p.Start(); err != nil {
		return err
	}
	return p.WaitReady(ctx, timeout)
}

func (p *Process) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running, p.done
}

// Done is closed when the current start of the process has exited.
func (p *Process) Done() <-chan struct{} {
	_, done := p.current()
	if done == nil {
		done = make(chan struct{})
		close(done)
	}
	return done
}

// Exited reports whether the process is not running.
func (p *Process) Exited() bool { return closed(p.Done()) }

// ExitErr is how the last start ended (nil for status 0 or while running).
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// Pid is the process id of the current start, 0 if none.
func (p *Process) Pid() int {
	cmd, _ := p.current()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}

// Signal sends sig to the running process.
func (p *Process) Signal(sig os.Signal) error {
	cmd, done := p.current()
	if cmd == nil || closed(done) {
		return fmt.Errorf("signal %s: not running", p.cmd.Name)
	}
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// ErrKilled is the error of a Stop that had to kill the process.
var ErrKilled = errors.New("killed")

// Stop stops the process as a service manager would: SIGTERM, then
// SIGKILL if it has not exited within grace. It returns how long the exit
// took and an error if it had to be killed or exited with a failure. Safe to
// call when stopped.
func (p *Process) Stop(grace time.Duration) (time.Duration, error) {
	cmd, done := p.current()
	if cmd == nil || closed(done) {
		return 0, nil
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return time.Since(start), p.ExitErr()
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM: %w", p.cmd.Name, grace, ErrKilled)
	}
}

// Logs returns everything the process has written, over all its starts.
func (p *Process) Logs() string {
	raw, err := os.ReadFile(p.cmd.LogPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	return string(raw)
}

// Tail returns the last n lines of the process's output.
func (p *Process) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Logs(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// LogCount returns how many lines of the process's output contain sub.
func (p *Process) LogCount(sub string) int {
	f, err := os.Open(p.cmd.LogPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(sub)) {
			n++
		}
	}
	return n
}

// Track stops p when the test ends (with a 45 s grace), showing the end of
// its output if the test failed. It does not start p.
func Track(t testing.TB, p *Process) {
	t.Cleanup(func() {
		if _, err := p.Stop(45 * time.Second); errors.Is(err, ErrKilled) {
			t.Errorf("stop: %v", err)
		} else if err != nil {
			t.Logf("stop %s: %v", p.Name(), err)
		}
		if t.Failed() {
			t.Logf("--- last lines of %s (%s) ---\n%s", p.Name(), p.LogPath(), p.Tail(60))
		}
	})
}

func closed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
