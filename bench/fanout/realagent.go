package fanout

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// realAgent is one member agent run as a member runs it: the agent-only
// binary (cmd/tocsin-agent) with a JSONL sink, its status lines on stdout.
type realAgent struct {
	cmd  *exec.Cmd
	sink string
	live chan struct{}
	done chan struct{}
	err  error

	mu     sync.Mutex
	offset int64 // of the sink, counted up to
	lines  int
}

// startRealAgent starts bin as member's agent: its state and sink in dir,
// its log in log.
func startRealAgent(bin, dir, servers, ca, creds, log string) (*realAgent, error) {
	out, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	a := &realAgent{sink: filepath.Join(dir, "alerts.jsonl"), live: make(chan struct{}), done: make(chan struct{})}
	a.cmd = exec.Command(bin, "--server", servers, "--creds", creds, "--tls-ca", ca, "--state", filepath.Join(dir, "state"),
		"--sink", "jsonl:"+a.sink, "--log-level", "warn")
	a.cmd.Stderr = out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		out.Close()
		return nil, err
	}
	if err := a.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		defer close(a.done)
		defer out.Close()
		sc := bufio.NewScanner(stdout)
		var once sync.Once
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if strings.Contains(sc.Text(), " live:") {
				once.Do(func() { close(a.live) })
			}
		}
		a.err = a.cmd.Wait()
	}()
	return a, nil
}

// waitLive waits until the agent says it is live.
func (a *realAgent) waitLive(ctx context.Context) error {
	select {
	case <-a.live:
		return nil
	case <-a.done:
		return fmt.Errorf("%w: the agent exited before it was live (%v): see its log", errChild, a.err)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the agent to be live: %w", ctx.Err())
	}
}

// written counts the records in the agent's sink so far.
func (a *realAgent) written() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.Open(a.sink)
	if err != nil {
		return a.lines
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return a.lines
	}
	data, _ := io.ReadAll(f)
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		a.lines += bytes.Count(data[:i+1], []byte{'\n'})
		a.offset += int64(i + 1)
	}
	return a.lines
}

// waitWritten waits (at most timeout) until the sink has n records.
func (a *realAgent) waitWritten(ctx context.Context, n int, timeout time.Duration) int {
	end := time.Now().Add(timeout)
	for {
		got := a.written()
		if got >= n || time.Now().After(end) || ctx.Err() != nil {
			return got
		}
		select {
		case <-a.done:
			return a.written()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// rss is the agent process's resident set now and at its highest.
func (a *realAgent) rss() (int64, int64) { return ProcRSS(a.cmd.Process.Pid) }

// stop ends the agent (SIGTERM, then SIGKILL after 20 seconds).
func (a *realAgent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// idleSettle is how long the agent measured alone stays idle after it is
// live before its resident set is read.
const idleSettle = 5 * time.Second

// realAgentIdle runs the idle agent as o.AgentBinary until it is live and
// idleSettle more, and returns its resident set then and the file pages
// among it.
func realAgentIdle(ctx context.Context, o Options, nodes procNodes, credsOf func(string) string) (rss, file int64, err error) {
	a, err := startRealAgent(o.AgentBinary, filepath.Join(o.DataDir, "agents", "bench-idle"), nodes.URLs(), nodes.CA(),
		credsOf("bench-idle"), childLog(o.DataDir, "one-agent"))
	if err != nil {
		return 0, 0, err
	}
	defer a.stop()
	if err := a.waitLive(ctx); err != nil {
		return 0, 0, err
	}
	select {
	case <-time.After(idleSettle):
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	rss, _ = a.rss()
	return rss, procFileRSS(a.cmd.Process.Pid), nil
}

// procFileRSS is the part of process pid's resident set that is file
// pages (RssFile of /proc/PID/status: the binary's and libraries' pages
// it touched), in bytes; 0 where unknown.
func procFileRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}

// realAgentCatchUp runs the catch-up agent as o.AgentBinary until its
// sink holds the backlog: how long it took, and its peak resident set.
func realAgentCatchUp(ctx context.Context, o Options, nodes procNodes, credsOf func(string) string, backlog int) (time.Duration, int64, error) {
	start := time.Now()
	a, err := startRealAgent(o.AgentBinary, filepath.Join(o.DataDir, "agents", "bench-catchup"), nodes.URLs(), nodes.CA(),
		credsOf("bench-catchup"), childLog(o.DataDir, "catch-up"))
	if err != nil {
		return 0, 0, err
	}
	defer a.stop()
	got := a.waitWritten(ctx, backlog, 30*time.Minute)
	took := time.Since(start)
	_, peak := a.rss()
	if got < backlog {
		return 0, 0, fmt.Errorf("%w: the catch-up agent wrote %d of %d", errChild, got, backlog)
	}
	return took, peak, nil
}

// procNodes are the node processes' addresses an agent needs.
type procNodes interface {
	URLs() string
	CA() string
}
