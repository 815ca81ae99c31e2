package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// These tests run the real tocsin binary as separate processes.

var tocsinBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tocsin-bin-")
	if err != nil {
		panic(err)
	}
	tocsinBin = filepath.Join(dir, "tocsin")
	out, err := exec.Command("go", "build", "-o", tocsinBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build tocsin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running tocsin process whose output is kept.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs tocsin with args and stops it (SIGKILL) when the test ends.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(tocsinBin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("tocsin %s output:\n%s", strings.Join(args, " "), p.Output())
		}
	})
	return p
}

// waitFor polls the output until it contains s.
func (p *proc) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	if err := p.wait(s, timeout); err != nil {
		t.Fatal(err)
	}
}

// wait polls the output until it contains s, and says why not when it
// never does.
func (p *proc) wait(s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Output(), s) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("tocsin exited (%v) before printing %q", p.err, s)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("tocsin did not print %q within %s", s, timeout)
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30s after SIGTERM")
	}
}

// run runs tocsin to completion and returns its stdout, stderr and exit code.
func run(t *testing.T, timeout time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tocsinBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run tocsin %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// freePorts returns n free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := freeport.Pick("127.0.0.1", n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

type statusJSON struct {
	Nodes []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
		Up   bool   `json:"up"`
	} `json:"nodes"`
	MetaLeader string `json:"meta_leader"`
	Streams    []struct {
		Name     string `json:"name"`
		Replicas int    `json:"replicas"`
		Leader   string `json:"leader"`
		Messages uint64 `json:"messages"`
	} `json:"streams"`
	Problems []string `json:"problems"`
}

// status runs `tocsin status --json` against server.
func status(t *testing.T, server string, extra ...string) (statusJSON, string, int) {
	t.Helper()
	args := append([]string{"status", "--json", "--timeout", "3s", "--server", server}, extra...)
	out, errOut, code := run(t, 20*time.Second, args...)
	var st statusJSON
	if code == 0 {
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json output is not JSON: %v\n%s", err, out)
		}
	}
	return st, errOut, code
}

// pollStatus polls status until ok accepts it.
func pollStatus(t *testing.T, server string, timeout time.Duration, ok func(statusJSON) error, extra ...string) statusJSON {
	t.Helper()
	var st statusJSON
	testwait.For(t, timeout, "tocsin status as expected", func() error {
		var errOut string
		var code int
		if st, errOut, code = status(t, server, extra...); code != 0 {
			return fmt.Errorf("exit %d: %s", code, errOut)
		}
		return ok(st)
	})
	return st
}
