package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the harness (a node or an agent). Its
// output is appended to a log file that outlives restarts. A proc is
// restartable: Start after it exited runs the same command again.
type proc struct {
	name string
	bin  string
	args []string
	log  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	paused  bool
	expect  bool // the harness ended or is ending it: its exit is no crash
	crashes []string
}

func newProc(name, bin, log string, args ...string) *proc {
	return &proc{name: name, bin: bin, args: args, log: log}
}

// Start runs the command; it fails if the process is already running.
func (p *proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "=== %s start %s\n", time.Now().UTC().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = out, out
	// The children die with the harness, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.paused, p.expect = cmd, done, false, false
	go func() {
		err := cmd.Wait()
		out.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.err = err
		if !p.expect {
			p.crashes = append(p.crashes, fmt.Sprintf("%s exited on its own at %s (%v): %s",
				p.name, time.Now().UTC().Format(time.RFC3339), err, lastLine(p.log)))
		}
		p.cmd = nil
		close(done)
	}()
	return nil
}

// Running reports whether the process runs (paused counts as running).
func (p *proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Pid is the running process's id, 0 when it is not running.
func (p *proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// signal sends sig to the running process; expected marks the exit that
// may follow as the harness's doing.
func (p *proc) signal(sig syscall.Signal, expected bool) (chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil, fmt.Errorf("%s is not running", p.name)
	}
	if expected {
		p.expect = true
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	return p.done, p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the exit.
func (p *proc) Kill(ctx context.Context) error {
	done, err := p.signal(syscall.SIGKILL, true)
	if err != nil {
		return err
	}
	return wait(ctx, done, p.name+" after SIGKILL")
}

// Stop sends SIGTERM (after SIGCONT if paused) and waits for the exit; past
// grace it kills.
func (p *proc) Stop(ctx context.Context, grace time.Duration) error {
	p.mu.Lock()
	paused := p.paused
	p.mu.Unlock()
	if paused {
		if _, err := p.signal(syscall.SIGCONT, false); err != nil {
			return err
		}
	}
	done, err := p.signal(syscall.SIGTERM, true)
	if err != nil {
		return err
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if err := wait(gctx, done, p.name+" after SIGTERM"); err == nil {
		return nil
	}
	if err := p.Kill(ctx); err != nil {
		return err
	}
	return fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", p.name, grace)
}

// Pause sends SIGSTOP; Resume sends SIGCONT.
func (p *proc) Pause() error {
	_, err := p.signal(syscall.SIGSTOP, false)
	return err
}

// Resume sends SIGCONT to a paused process.
func (p *proc) Resume() error {
	_, err := p.signal(syscall.SIGCONT, false)
	return err
}

// Crashes lists the exits the harness did not cause.
func (p *proc) Crashes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashes...)
}

// Cleanup kills the process if it runs, whatever state it is in.
func (p *proc) Cleanup() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd != nil {
		p.expect = true
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
	}
	p.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
}

// lastLine is the last line of the file at path: a process's last word.
func lastLine(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return lines[len(lines)-1]
}

func wait(ctx context.Context, done chan struct{}, what string) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
}
