package fanout

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
)

// ChildSpec is what one agent process of `tocsin bench fanout --procs`
// runs: its first line on stdin, as JSON.
type ChildSpec struct {
	// Servers are the cluster URLs, comma-separated; CA the CA to trust.
	Servers string `json:"servers"`
	CA      string `json:"ca"`
	// Dir holds the agents' state and sinks.
	Dir string `json:"dir"`
	// Receipts is the agents' receipt policy.
	Receipts string `json:"receipts"`
	// Agents are the members whose agents this process runs.
	Agents []ChildAgent `json:"agents"`
	// RawCreds connect the plain consumers RawConsumers of RawStream
	// (the raw side of the comparison, in the same processes).
	RawCreds     string   `json:"raw_creds"`
	RawStream    string   `json:"raw_stream"`
	RawConsumers []string `json:"raw_consumers"`
}

// ChildAgent is one member agent of a child process.
type ChildAgent struct {
	ID    string `json:"id"`
	Creds string `json:"creds"`
}

// Child commands, one JSON line each on stdin; each is answered by one
// ChildReport line on stdout (and "count" lines every half second while
// something is delivering).
const (
	// opAgents starts the agents and answers once every one is live.
	opAgents = "agents"
	// opRaw starts the plain consumers.
	opRaw = "raw"
	// opStop stops what runs and answers with its latencies.
	opStop = "stop"
	// opCount is the running count of deliveries (child to parent only).
	opCount = "count"
)

// ChildReport is one line of a child's stdout.
type ChildReport struct {
	Op string `json:"op"`
	// Live is how many agents (or plain consumers) run.
	Live int `json:"live,omitempty"`
	// Delivered is how many deliveries were written since the last start.
	Delivered int `json:"delivered"`
	// LatenciesNS are the publish-to-sink (or publish-to-consume)
	// latencies since the last start, in nanoseconds (opStop only).
	LatenciesNS []int64 `json:"latencies_ns,omitempty"`
	Redelivered int     `json:"redelivered,omitempty"`
	// First and Last are the earliest publish and the last delivery.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	// RSS and PeakRSS are the process's resident set now and at its
	// highest (VmRSS, VmHWM), in bytes.
	RSS     int64 `json:"rss_bytes"`
	PeakRSS int64 `json:"peak_rss_bytes"`
	// Error says why the command failed.
	Error string `json:"error,omitempty"`
}

type childCommand struct {
	Op string `json:"op"`
}

// RunChild is the hidden `tocsin bench fanout child`: it reads a
// ChildSpec and then commands from in, and reports on out, until in ends.
func RunChild(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if !sc.Scan() {
		return fmt.Errorf("fanout child: no spec on stdin: %v", sc.Err())
	}
	var spec ChildSpec
	if err := json.Unmarshal(sc.Bytes(), &spec); err != nil {
		return fmt.Errorf("fanout child: the spec is not JSON: %w", err)
	}
	c := &child{spec: spec, enc: json.NewEncoder(out)}
	defer c.stop()
	for sc.Scan() {
		var cmd childCommand
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			return fmt.Errorf("fanout child: command %q is not JSON: %w", sc.Text(), err)
		}
		var rep ChildReport
		var err error
		switch cmd.Op {
		case opAgents:
			rep, err = c.startAgents(ctx)
		case opRaw:
			rep, err = c.startRaw(ctx)
		case opStop:
			rep = c.stop()
		default:
			err = fmt.Errorf("unknown command %q", cmd.Op)
		}
		rep.Op = cmd.Op
		if err != nil {
			rep.Error = err.Error()
		}
		rep.RSS, rep.PeakRSS = ProcRSS(os.Getpid())
		c.write(rep)
	}
	return sc.Err()
}

// child is a child process's running state.
type child struct {
	spec  ChildSpec
	encMu sync.Mutex
	enc   *json.Encoder
	col   *collector
	halt  func()
}

func (c *child) write(r ChildReport) {
	c.encMu.Lock()
	defer c.encMu.Unlock()
	_ = c.enc.Encode(r)
}

// counting starts a collector and the half-second count lines.
func (c *child) counting() (*collector, func()) {
	col := newCollector()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		last := -1
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			col.mu.Lock()
			n := len(col.lat)
			col.mu.Unlock()
			if n != last {
				c.write(ChildReport{Op: opCount, Delivered: n})
				last = n
			}
		}
	}()
	return col, func() { close(done); wg.Wait() }
}

func (c *child) startAgents(ctx context.Context) (ChildReport, error) {
	c.stop()
	col, stopCount := c.counting()
	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var list []*agent.Agent
	c.col = col
	c.halt = func() { cancel(); wg.Wait(); stopCount() }
	for _, m := range c.spec.Agents {
		dir := filepath.Join(c.spec.Dir, m.ID)
		j, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
		if err != nil {
			return ChildReport{}, err
		}
		a, err := agent.New(agent.Options{CredsFile: m.Creds, Servers: c.spec.Servers, StateDir: filepath.Join(dir, "state"),
			Sinks: []agent.Sink{timedSink{j, col.add}}, Receipts: c.spec.Receipts, Name: "bench " + m.ID,
			NATS: []nats.Option{nats.RootCAs(c.spec.CA)}}, zap.NewNop())
		if err != nil {
			_ = j.Close()
			return ChildReport{}, err
		}
		list = append(list, a)
		wg.Add(1)
		go func() { defer wg.Done(); _ = a.Run(actx) }()
	}
	if err := waitLive(ctx, list); err != nil {
		return ChildReport{}, err
	}
	return ChildReport{Live: len(list)}, nil
}

// startRaw consumes the plain consumers, each on its own connection, and
// answers once each has a pull request waiting.
func (c *child) startRaw(ctx context.Context) (ChildReport, error) {
	c.stop()
	col, stopCount := c.counting()
	var stops []func()
	c.col = col
	c.halt = func() {
		for _, s := range stops {
			s()
		}
		stopCount()
	}
	for _, name := range c.spec.RawConsumers {
		nc, err := nats.Connect(c.spec.Servers, nats.UserCredentials(c.spec.RawCreds), nats.RootCAs(c.spec.CA), nats.MaxReconnects(-1))
		if err != nil {
			return ChildReport{}, err
		}
		js, _ := jetstream.New(nc)
		var cons jetstream.Consumer
		if err := retry(ctx, func(ctx context.Context) error {
			var err error
			cons, err = js.Consumer(ctx, c.spec.RawStream, name)
			return err
		}); err != nil {
			nc.Close()
			return ChildReport{}, err
		}
		cc, err := consumeStamped(cons, col)
		if err != nil {
			nc.Close()
			return ChildReport{}, err
		}
		stops = append(stops, func() { cc.Stop(); nc.Close() })
	}
	return ChildReport{Live: len(stops)}, nil
}

// stop stops the agents or consumers that run and reports what they
// delivered.
func (c *child) stop() ChildReport {
	if c.halt == nil {
		return ChildReport{}
	}
	c.halt()
	col := c.col
	c.halt, c.col = nil, nil
	col.mu.Lock()
	defer col.mu.Unlock()
	r := ChildReport{Delivered: len(col.lat), Redelivered: col.redelivered, First: col.first, Last: col.last}
	for _, d := range col.lat {
		r.LatenciesNS = append(r.LatenciesNS, int64(d))
	}
	return r
}

// ProcRSS is the resident set of process pid now and at its highest
// (VmRSS and VmHWM of /proc/PID/status), in bytes; zeros where unknown.
func ProcRSS(pid int) (rss, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			peak = n * 1024
		}
	}
	return rss, peak
}

// errChild is wrapped when an agent process failed or reported an error.
var errChild = errors.New("agent process failed")
