package fanout

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// agentProc is one child process of `tocsin bench fanout --procs`: the
// hidden `tocsin bench fanout child` running some agents.
type agentProc struct {
	name    string
	cmd     *exec.Cmd
	in      io.WriteCloser
	replies chan ChildReport
	// count is the child's last running count of deliveries.
	mu    sync.Mutex
	count int
	done  chan struct{}
	err   error
}

// startChild starts bin's child subcommand with spec, its stderr in log.
func startChild(bin, name, log string, spec ChildSpec) (*agentProc, error) {
	out, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "bench", "fanout", "child")
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		out.Close()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		out.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start agent process %s: %w", name, err)
	}
	p := &agentProc{name: name, cmd: cmd, in: in, replies: make(chan ChildReport, 4), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer out.Close()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		for sc.Scan() {
			var r ChildReport
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				fmt.Fprintf(out, "unreadable line from the child: %q\n", sc.Text())
				continue
			}
			if r.Op == opCount {
				p.mu.Lock()
				p.count = r.Delivered
				p.mu.Unlock()
				continue
			}
			p.replies <- r
		}
		p.err = cmd.Wait()
	}()
	data, _ := json.Marshal(spec)
	if _, err := fmt.Fprintf(in, "%s\n", data); err != nil {
		p.kill()
		return nil, fmt.Errorf("agent process %s: %w", name, err)
	}
	return p, nil
}

// send sends one command; ask waits for its answer.
func (p *agentProc) send(op string) error {
	p.mu.Lock()
	p.count = 0
	p.mu.Unlock()
	_, err := fmt.Fprintf(p.in, `{"op":%q}`+"\n", op)
	return err
}

func (p *agentProc) answer(ctx context.Context, op string) (ChildReport, error) {
	select {
	case r := <-p.replies:
		if r.Error != "" {
			return r, fmt.Errorf("%w: %s: %s: %s", errChild, p.name, op, r.Error)
		}
		return r, nil
	case <-p.done:
		return ChildReport{}, fmt.Errorf("%w: %s exited during %s (%v): see its log", errChild, p.name, op, p.err)
	case <-ctx.Done():
		return ChildReport{}, fmt.Errorf("%s: waiting for %s: %w", p.name, op, ctx.Err())
	}
}

// delivered is the child's running count since its last command.
func (p *agentProc) delivered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// pid is the child's process id.
func (p *agentProc) pid() int { return p.cmd.Process.Pid }

// close ends the child (stdin closed: it stops its agents and exits).
func (p *agentProc) close() {
	_ = p.in.Close()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.kill()
	}
}

func (p *agentProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// procSet are the agent processes of a run.
type procSet []*agentProc

// ask sends op to every process and collects the answers.
func (ps procSet) ask(ctx context.Context, op string) ([]ChildReport, error) {
	for _, p := range ps {
		if err := p.send(op); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errChild, p.name, err)
		}
	}
	var out []ChildReport
	for _, p := range ps {
		r, err := p.answer(ctx, op)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// waitDelivered waits (at most timeout) until the processes together
// count want deliveries.
func (ps procSet) waitDelivered(ctx context.Context, want int, timeout time.Duration) {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) && ctx.Err() == nil {
		n := 0
		for _, p := range ps {
			n += p.delivered()
		}
		if n >= want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (ps procSet) close() {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.close() }()
	}
	wg.Wait()
}

// figuresOf merges the children's stop reports into one side's figures.
func figuresOf(reps []ChildReport, published, expected int) Figures {
	var lat []time.Duration
	var first, last time.Time
	red := 0
	for _, r := range reps {
		for _, ns := range r.LatenciesNS {
			lat = append(lat, time.Duration(ns))
		}
		red += r.Redelivered
		if !r.First.IsZero() && (first.IsZero() || r.First.Before(first)) {
			first = r.First
		}
		if r.Last.After(last) {
			last = r.Last
		}
	}
	f := Figures{Published: published, Expected: expected, Delivered: len(lat), Latency: latencies(lat), Redelivered: red}
	f.Slowest.Latency = f.Latency.Max
	if span := last.Sub(first); span > 0 {
		f.PerSec = float64(len(lat)) / span.Seconds()
	}
	return f
}

// childLog is where process name's stderr goes.
func childLog(dir, name string) string { return filepath.Join(dir, "logs", name+".log") }
