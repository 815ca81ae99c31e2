// Package fanout is the fan-out benchmark (`tocsin bench fanout`): N
// member agents against raw JetStream fan-out to N consumers on the same
// in-process 3-node cluster, in the same run.
package fanout

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/agent/paging"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/bench"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// ErrOptions is wrapped when Options cannot be used.
var ErrOptions = errors.New("invalid fan-out benchmark options")

// Options configures Run. The zero value of each field is its default.
type Options struct {
	// Agents is how many member agents run, each in its own connection,
	// spread round-robin over the default sectors. Default 100.
	Agents int
	// Rate is the alerts published per second (each to every sector, so
	// each reaches every agent). Default 5.
	Rate float64
	// Duration is how long alerts are published. Default 20s.
	Duration time.Duration
	// CatchUp is how many alerts the catch-up agent missed; default
	// 100,000; negative skips the catch-up phase.
	CatchUp int
	// Receipts is the agents' receipt policy (see agent.Options.Receipts).
	// Default agent.ReceiptsAll, as a real agent.
	Receipts string
	// DataDir holds the cluster, the agents' state and sinks. Required.
	DataDir string
	// Progress, when set, is told what the benchmark is doing.
	Progress func(string)
	// Procs, when more than 0, runs the agents in this many OS processes
	// (Binary's hidden `bench fanout child`), the raw consumers in the same
	// processes, and the catch-up agent in one more. Needs NodesProcs.
	// Default 0: everything in this process.
	Procs int
	// NodesProcs runs the three nodes as `tocsin node` processes of Binary
	// (chaos.StartNodes: tocsin init, operator mode with member accounts,
	// TLS), the members admitted with tocsin members add --lazy-consumers.
	// Default false: the in-process cluster (the global account).
	NodesProcs bool
	// Binary is the tocsin binary the processes run. Default: this
	// process's executable.
	Binary string
	// AgentBinary, when set, is the agent-only binary (cmd/tocsin-agent)
	// that runs the one agent measured alone, idle and catching up, as a
	// member runs it (flags, a JSONL sink). Default: a child of Binary.
	AgentBinary string
}

// Result is what Run measured.
type Result struct {
	Agents   int           `json:"agents"`
	Rate     float64       `json:"rate_per_sec"`
	Duration time.Duration `json:"duration"`
	// Tocsin is publish (seal) to the JSONL sink's fsync, through the
	// router and each agent's verification.
	Tocsin Figures `json:"tocsin"`
	// Raw is publish to a plain pull consumer's receipt, N R1 consumers on
	// one R3 stream, same rate and payload size.
	Raw Figures `json:"raw"`
	// CatchUp compares an agent catching up with a backlog and a plain
	// durable consumer reading the same backlog.
	CatchUp *CatchUpFigures `json:"catch_up,omitempty"`
	// Memory is the process heap the consumers and connected agents add.
	Memory MemoryFigures `json:"memory"`
	// Setup is how long starting the agents took (consumers created on
	// demand through the service).
	Setup time.Duration `json:"setup"`
	// P99RatioVsRaw is the agents' p99 over the raw consumers' (goal: at
	// most 2).
	P99RatioVsRaw float64 `json:"p99_ratio_vs_raw"`
	// Procs are the figures of a run with agents and nodes in their own
	// processes (Options.Procs); Memory is then zero.
	Procs *ProcsFigures `json:"procs,omitempty"`
}

// Figures are one side of the fan-out comparison.
type Figures struct {
	Published int           `json:"published"`
	Expected  int           `json:"expected_deliveries"`
	Delivered int           `json:"delivered"`
	Latency   bench.Latency `json:"latency"`
	// PerSec is deliveries per second, first publish to last delivery.
	PerSec float64 `json:"deliveries_per_sec"`
	// Slowest is the delivery that took longest.
	Slowest Slowest `json:"slowest"`
	// Redelivered counts the deliveries written on a second or later
	// delivery: each waited out an ack wait (Tocsin only).
	Redelivered int `json:"redelivered"`
	// IOPressure is the share of the phase during which some task of the
	// machine waited for IO (Linux PSI "some"; -1 where unknown).
	IOPressure float64 `json:"io_pressure"`
}

// Slowest is one delivery: how long it took, and where the time went.
type Slowest struct {
	Latency time.Duration `json:"latency"`
	// Routed is publish to the routed copy's stream time (Tocsin only).
	Routed time.Duration `json:"routed,omitempty"`
	// Delivery is the delivery count of the message when it was written:
	// more than 1 when an earlier delivery was lost (Tocsin only).
	Delivery uint64 `json:"delivery,omitempty"`
}

func (s Slowest) String() string {
	if s.Delivery == 0 {
		return s.Latency.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%s (routed after %s, delivery %d)", s.Latency.Round(time.Millisecond), s.Routed.Round(time.Millisecond), s.Delivery)
}

// String is one line of the figures, for progress output.
func (f Figures) String() string {
	return fmt.Sprintf("%d of %d delivered, p50 %s p99 %s max %s, %.0f deliveries/s", f.Delivered, f.Expected,
		f.Latency.P50.Round(time.Millisecond), f.Latency.P99.Round(time.Millisecond), f.Slowest, f.PerSec)
}

// CatchUpFigures compare catching up with a backlog.
type CatchUpFigures struct {
	Alerts      int           `json:"alerts"`
	RouteTime   time.Duration `json:"route_time"`
	AgentTime   time.Duration `json:"agent_time"`
	AgentPerSec float64       `json:"agent_per_sec"`
	RawTime     time.Duration `json:"raw_time"`
	RawPerSec   float64       `json:"raw_per_sec"`
}

// MemoryFigures are heap figures of the benchmark's own process, which
// holds the three broker nodes and the agents, split by whether
// nats-server's code allocated the bytes (liveHeapSplit).
type MemoryFigures struct {
	// ConsumersPerAgent is the broker's heap for one agent's R1 consumers
	// (its sector and its inbox), before anyone connects.
	ConsumersPerAgent int64 `json:"broker_consumers_per_agent_bytes"`
	// ConnectedPerAgent is the broker's heap one connected, idle, live
	// agent adds on top: its connection, subscriptions and pull requests.
	ConnectedPerAgent int64 `json:"broker_connection_per_agent_bytes"`
	// AgentPerAgent is the heap of one agent itself (its NATS client,
	// verifier, sinks and state): what its own process holds.
	AgentPerAgent int64 `json:"agent_heap_per_agent_bytes"`
	// RawConnectedPerConsumer is the broker's heap for a plain connection
	// with one R1 pull consumer, for comparison with ConsumersPerAgent +
	// ConnectedPerAgent.
	RawConnectedPerConsumer int64 `json:"raw_broker_per_consumer_bytes"`
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, fmt.Errorf("%w: a data directory is required", ErrOptions)
	}
	if o.Agents < 0 || o.Rate < 0 || o.Duration < 0 {
		return o, fmt.Errorf("%w: agents, rate and duration cannot be negative", ErrOptions)
	}
	if o.Agents == 0 {
		o.Agents = 100
	}
	if o.Rate == 0 {
		o.Rate = 5
	}
	if o.Duration == 0 {
		o.Duration = 20 * time.Second
	}
	if o.CatchUp == 0 {
		o.CatchUp = 100000
	}
	if o.Receipts == "" {
		o.Receipts = agent.ReceiptsAll
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Procs < 0 || o.Procs > o.Agents {
		return o, fmt.Errorf("%w: procs %d: use 0 (in this process) up to the agents (%d)", ErrOptions, o.Procs, o.Agents)
	}
	if o.Procs > 0 && !o.NodesProcs {
		return o, fmt.Errorf("%w: agents in processes need the nodes as processes too (the in-process cluster runs without operator mode): add --nodes-procs", ErrOptions)
	}
	if o.NodesProcs && o.Procs == 0 {
		return o, fmt.Errorf("%w: nodes as processes need the agents in processes too: add --procs N", ErrOptions)
	}
	if o.Binary == "" && o.Procs > 0 {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("%w: no tocsin binary to run the processes: %v", ErrOptions, err)
		}
		o.Binary = exe
	}
	return o, nil
}

// Run measures N agents against raw JetStream fan-out to N consumers on
// the same in-process 3-node cluster, in the same run: publish-to-sink
// latency and delivered throughput at a steady publish rate, catching up
// with a backlog, and memory per connected agent.
func Run(ctx context.Context, o Options, log *zap.Logger) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if o.Procs > 0 {
		res, err := runProcs(ctx, o, log)
		if err != nil {
			return nil, err
		}
		res.P99RatioVsRaw = ratio(res.Tocsin.Latency.P99, res.Raw.Latency.P99)
		return res, nil
	}
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = heapRate
	sectors := members.DefaultVocabulary().Sectors
	cast := []*tocsinv1.Member{
		{Id: "bench-pub", Name: "publisher", Sectors: []string{"patient-care"}, Region: "northeast", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		{Id: "bench-catchup", Name: "catch-up agent", Sectors: []string{"federal"}, Region: "northeast", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		{Id: "svc-bench", Name: "bench services", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}},
	}
	for _, id := range backlogSenders {
		cast = append(cast, &tocsinv1.Member{Id: id, Name: "backlog publisher", Sectors: []string{"patient-care"}, Region: "northeast",
			Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}})
	}
	var ids []string
	for i := range o.Agents {
		id := fmt.Sprintf("agent-%04d", i)
		ids = append(ids, id)
		cast = append(cast, &tocsinv1.Member{Id: id, Name: id, Sectors: []string{sectors[i%len(sectors)]}, Region: "northeast",
			Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}})
	}
	o.Progress(fmt.Sprintf("starting a 3-node cluster with %d members", len(cast)))
	b, err := startCluster(ctx, o.DataDir, cast, log.Named("nats"))
	if err != nil {
		return nil, err
	}
	defer b.close()
	res := &Result{Agents: o.Agents, Rate: o.Rate, Duration: o.Duration}
	byID := map[string]*tocsinv1.Member{}
	for _, m := range cast {
		byID[m.GetId()] = m
	}
	m0 := liveHeapSplit()
	o.Progress("creating the agents' R1 consumers")
	if err := createConsumers(ctx, b.js, append(slices.Clone(ids), "bench-catchup"), byID, o.Progress); err != nil {
		return nil, err
	}
	m1 := liveHeapSplit()
	res.Memory.ConsumersPerAgent = m1.minus(m0).broker / int64(o.Agents+1)

	col := newCollector()
	o.Progress(fmt.Sprintf("starting %d agents", o.Agents))
	start := time.Now()
	agents, err := startAgents(ctx, b, o, ids, col.add, nil)
	if err != nil {
		return nil, err
	}
	if err := waitLive(ctx, agents.list); err != nil {
		agents.stop()
		return nil, err
	}
	res.Setup = time.Since(start)
	connected := liveHeapSplit().minus(m1)
	res.Memory.ConnectedPerAgent = connected.broker / int64(o.Agents)
	res.Memory.AgentPerAgent = connected.other / int64(o.Agents)

	o.Progress(fmt.Sprintf("tocsin: %.1f alerts/s for %s to %d agents", o.Rate, o.Duration, o.Agents))
	col.expect(o.Agents * int(o.Rate*o.Duration.Seconds()))
	io := startPressure()
	sent, err := publishAlerts(ctx, b, o.Rate, o.Duration, nil)
	if err != nil {
		agents.stop()
		return nil, err
	}
	res.Tocsin = col.figures(ctx, sent, sent*o.Agents, o.Duration+2*time.Minute)
	res.Tocsin.IOPressure = io.share()
	o.Progress("tocsin: " + res.Tocsin.String())
	agents.stop()
	agents, col = nil, nil // released before the raw side's memory is measured

	o.Progress("raw: the same rate to as many plain consumers")
	if res.Raw, res.Memory.RawConnectedPerConsumer, err = rawFanout(ctx, b, o); err != nil {
		return nil, err
	}
	o.Progress("raw: " + res.Raw.String())
	if o.CatchUp > 0 {
		o.Progress(fmt.Sprintf("catch-up: routing %d alerts to a stopped agent", o.CatchUp))
		if res.CatchUp, err = catchUp(ctx, b, o); err != nil {
			return nil, err
		}
	}
	res.P99RatioVsRaw = ratio(res.Tocsin.Latency.P99, res.Raw.Latency.P99)
	return res, nil
}

// createConsumers creates the member consumers of ids (but their
// rejections'), as the agent service would when each first connects.
func createConsumers(ctx context.Context, js jetstream.JetStream, ids []string, byID map[string]*tocsinv1.Member, progress func(string)) error {
	began := time.Now()
	for i, id := range ids {
		if i > 0 && i%250 == 0 {
			progress(fmt.Sprintf("%d agents' consumers in %s", i, time.Since(began).Round(time.Millisecond)))
		}
		for _, c := range auth.Consumers(byID[id]) {
			if c.Stream == subjects.StreamRejections {
				continue
			}
			if err := retry(ctx, func(ctx context.Context) error {
				_, err := js.CreateOrUpdateConsumer(ctx, c.Stream, agent.ConsumerConfig(id, c, 0))
				return err
			}); err != nil {
				return fmt.Errorf("consumer %s: %w", c.Name, err)
			}
		}
	}
	return nil
}

// retry runs f until it succeeds, for at most a minute (a JetStream API
// call may find no responder during a leader change).
func retry(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f(cctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// agentSet are running agents.
type agentSet struct {
	list []*agent.Agent
	stop func()
}

// startAgents runs an agent for each of ids, each with a JSONL sink that
// tells onWrite every batch it has written, and the pager pager gives it
// (nil: none).
func startAgents(ctx context.Context, b *cluster, o Options, ids []string, onWrite func([]*agent.Record), pager func(id, dir string) (*paging.Pager, error)) (*agentSet, error) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	ba := &agentSet{stop: func() { cancel(); wg.Wait() }}
	for _, id := range ids {
		dir := filepath.Join(o.DataDir, "agents", id)
		j, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
		if err != nil {
			ba.stop()
			return nil, err
		}
		var p *paging.Pager
		if pager != nil {
			if p, err = pager(id, dir); err != nil {
				_ = j.Close()
				ba.stop()
				return nil, err
			}
		}
		a, err := agent.New(agent.Options{CredsFile: b.creds[id], Servers: b.c.ClientURL(), StateDir: filepath.Join(dir, "state"),
			Sinks: []agent.Sink{timedSink{j, onWrite}}, Receipts: o.Receipts, Name: "bench " + id, Pager: p}, zap.NewNop())
		if err != nil {
			_ = j.Close()
			ba.stop()
			return nil, err
		}
		ba.list = append(ba.list, a)
		wg.Add(1)
		go func() { defer wg.Done(); _ = a.Run(actx) }()
	}
	return ba, nil
}

// timedSink tells onWrite each batch its sink has written. It is the
// agent's only sink, so onWrite sees a batch once every sink has it.
type timedSink struct {
	agent.Sink
	onWrite func([]*agent.Record)
}

func (s timedSink) Write(ctx context.Context, recs []*agent.Record) error {
	if err := s.Sink.Write(ctx, recs); err != nil {
		return err
	}
	s.onWrite(recs)
	return nil
}

// waitLive waits until every agent is live.
func waitLive(ctx context.Context, agents []*agent.Agent) error {
	for _, a := range agents {
		for a.HTTPState().State != "live" {
			select {
			case <-ctx.Done():
				return fmt.Errorf("agent %s is %s: %w", a.Member(), a.HTTPState().State, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// collector gathers publish-to-sink latencies.
type collector struct {
	mu          sync.Mutex
	lat         []time.Duration
	first, last time.Time
	want        int
	done        chan struct{}
	slowest     Slowest
	redelivered int
}

func newCollector() *collector { return &collector{done: make(chan struct{})} }

func (c *collector) expect(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = n
	c.lat = make([]time.Duration, 0, n)
}

func (c *collector) add(recs []*agent.Record) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		lat := now.Sub(r.Time)
		c.lat = append(c.lat, lat)
		if r.Delivery > 1 {
			c.redelivered++
		}
		if lat > c.slowest.Latency {
			c.slowest = Slowest{Latency: lat, Delivery: r.Delivery}
			if !r.Routed.IsZero() {
				c.slowest.Routed = r.Routed.Sub(r.Time)
			}
		}
		if c.first.IsZero() || r.Time.Before(c.first) {
			c.first = r.Time
		}
	}
	c.last = now
	if c.want > 0 && len(c.lat) >= c.want {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
}

// figures waits (at most timeout) for the expected deliveries and
// summarises them.
func (c *collector) figures(ctx context.Context, published, expected int, timeout time.Duration) Figures {
	c.mu.Lock()
	c.want = expected
	if len(c.lat) >= expected {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(timeout):
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f := Figures{Published: published, Expected: expected, Delivered: len(c.lat), Latency: latencies(c.lat), Slowest: c.slowest, Redelivered: c.redelivered}
	if span := c.last.Sub(c.first); span > 0 {
		f.PerSec = float64(len(c.lat)) / span.Seconds()
	}
	return f
}

// latencies sorts ds and returns its percentiles.
func latencies(ds []time.Duration) bench.Latency {
	if len(ds) == 0 {
		return bench.Latency{}
	}
	slices.Sort(ds)
	q := func(f float64) time.Duration { return ds[min(len(ds)-1, int(f*float64(len(ds))))] }
	return bench.Latency{P50: q(0.5), P99: q(0.99), Max: ds[len(ds)-1]}
}

// publishAlerts publishes GREEN alerts as bench-pub at rate for d (to
// every sector when sectors is nil), each with its own indicator so that
// none is deduplicated, and returns how many were acknowledged.
func publishAlerts(ctx context.Context, b *cluster, rate float64, d time.Duration, sectors []string) (int, error) {
	n := int(rate * d.Seconds())
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	return publishN(ctx, b, []string{"bench-pub"}, n, sectors, tocsinv1.Lane_LANE_URGENT, func() { <-tick.C })
}

// backlogSenders publish the catch-up backlog.
var backlogSenders = func() []string {
	var ids []string
	for i := range 16 {
		ids = append(ids, fmt.Sprintf("bench-backlog-%02d", i))
	}
	return ids
}()

// publishN publishes n alerts on lane from senders in turn, calling pace
// before each.
func publishN(ctx context.Context, b *cluster, senders []string, n int, sectors []string, lane tocsinv1.Lane, pace func()) (int, error) {
	var futures []jetstream.PubAckFuture
	for i := range n {
		pace()
		signer := b.signers[senders[i%len(senders)]]
		a := benchAlert(i, sectors)
		a.Lane = lane
		env, err := signer.Seal(tocsinv1.Kind_KIND_ALERT, a)
		if err != nil {
			return 0, err
		}
		data, _ := envelope.Marshal(env)
		msg := nats.NewMsg(subjects.Ingest(subjects.KindAlert, signer.Sender()))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		// A backlog of 100,000 outruns the router: wait for room rather
		// than fail the run.
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
		if err != nil {
			return 0, err
		}
		futures = append(futures, f)
	}
	acked := 0
	for _, f := range futures {
		if err := jsctx.AwaitPubAck(ctx, f); err == nil {
			acked++
		} else if ctx.Err() != nil {
			return acked, ctx.Err()
		}
	}
	return acked, nil
}

// bundle is a STIX bundle with one indicator for domain, marked.
func bundle(domain, marking string) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	ind := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--" + ids.V4(), "created": now, "modified": now,
		"name": "C2 domain " + domain, "pattern": fmt.Sprintf("[domain-name:value = '%s']", domain), "pattern_type": "stix",
		"valid_from": now, "object_marking_refs": []string{marking},
	}
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": []any{ind}})
	return data
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// rawFanout publishes at the same rate to a plain R3 stream read by as
// many R1 durable pull consumers, each on its own connection.
func rawFanout(ctx context.Context, b *cluster, o Options) (Figures, int64, error) {
	const stream, subject = rawStream, rawSubject
	if err := retry(ctx, func(ctx context.Context) error {
		_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Replicas: b.c.Replicas(),
			Storage: jetstream.FileStorage})
		return err
	}); err != nil {
		return Figures{}, 0, err
	}
	defer b.js.DeleteStream(context.WithoutCancel(ctx), stream)
	col := newCollector()
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	for i := range o.Agents {
		name := fmt.Sprint("raw-", i)
		if err := retry(ctx, func(ctx context.Context) error {
			_, err := b.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy, Replicas: 1})
			return err
		}); err != nil {
			return Figures{}, 0, err
		}
		nc, err := nats.Connect(b.c.ClientURL(), nats.MaxReconnects(-1))
		if err != nil {
			return Figures{}, 0, err
		}
		js, _ := jetstream.New(nc)
		cons, err := js.Consumer(ctx, stream, name)
		if err != nil {
			nc.Close()
			return Figures{}, 0, err
		}
		cc, err := consumeStamped(cons, col)
		if err != nil {
			nc.Close()
			return Figures{}, 0, err
		}
		stops = append(stops, func() { cc.Stop(); nc.Close() })
	}
	// Every consumer has its pull request in place before the clock starts.
	if err := waitPulls(ctx, b.js, o.Agents); err != nil {
		return Figures{}, 0, err
	}
	// The broker's heap for the plain connections and their consumers is
	// what closing and deleting them gives back (measured growing, it
	// would include what the stopped agents are still giving back).
	with := liveHeapSplit()
	n := int(o.Rate * o.Duration.Seconds())
	col.expect(n * o.Agents)
	io := startPressure()
	sent := publishStamped(ctx, b.js, subject, o.Rate, n)
	f := col.figures(ctx, sent, sent*o.Agents, 2*time.Minute)
	f.IOPressure = io.share()
	for _, s := range stops {
		s()
	}
	stops = nil
	if err := b.js.DeleteStream(context.WithoutCancel(ctx), stream); err != nil {
		return f, 0, err
	}
	return f, with.minus(settledHeapSplit(ctx)).broker / int64(o.Agents), nil
}

// catchUp routes o.CatchUp alerts to the federal sector while its
// catch-up agent is stopped, then times the agent catching up and a plain
// durable consumer reading the same messages.
func catchUp(ctx context.Context, b *cluster, o Options) (*CatchUpFigures, error) {
	f := &CatchUpFigures{Alerts: o.CatchUp}
	start := time.Now()
	// The router takes each sender's messages in order, one at a time: a
	// backlog from one sender would take minutes to route, so sixteen
	// members publish it.
	if _, err := publishN(ctx, b, backlogSenders, o.CatchUp, []string{"federal"}, tocsinv1.Lane_LANE_URGENT, func() {}); err != nil {
		return nil, err
	}
	var cons jetstream.Consumer
	if err := retry(ctx, func(ctx context.Context) error {
		var err error
		cons, err = b.js.Consumer(ctx, subjects.StreamSectors, auth.SectorConsumer("bench-catchup", "federal"))
		return err
	}); err != nil {
		return nil, err
	}
	backlog := 0
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.NumPending >= uint64(o.CatchUp) {
			backlog = int(info.NumPending) // with the fan-out phase's alerts
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	f.RouteTime = time.Since(start)
	o.Progress(fmt.Sprintf("catch-up: %d waiting, routed in %s; starting the agent", backlog, f.RouteTime.Round(time.Millisecond)))
	f.Alerts = backlog
	col := newCollector()
	col.expect(backlog)
	start = time.Now()
	agents, err := startAgents(ctx, b, o, []string{"bench-catchup"}, col.add, nil)
	if err != nil {
		return nil, err
	}
	select {
	case <-col.done:
	case <-ctx.Done():
	}
	f.AgentTime = time.Since(start)
	agents.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	f.AgentPerSec = float64(backlog) / f.AgentTime.Seconds()
	o.Progress(fmt.Sprintf("catch-up: the agent wrote %d in %s (%.0f/s); now a plain durable consumer", backlog, f.AgentTime.Round(time.Millisecond), f.AgentPerSec))

	if f.RawTime, err = rawCatchUp(ctx, b.js, backlog); err != nil {
		return nil, err
	}
	f.RawPerSec = float64(backlog) / f.RawTime.Seconds()
	return f, nil
}

// rawCatchUp times a plain durable consumer of the federal sector reading
// its backlog of backlog messages, in fetches as large as the agent's.
func rawCatchUp(ctx context.Context, js jetstream.JetStream, backlog int) (time.Duration, error) {
	var raw jetstream.Consumer
	if err := retry(ctx, func(ctx context.Context) error {
		var err error
		raw, err = js.CreateOrUpdateConsumer(ctx, subjects.StreamSectors, jetstream.ConsumerConfig{Durable: "bench-raw-catchup",
			FilterSubject: subjects.SectorAll("federal"), AckPolicy: jetstream.AckExplicitPolicy, Replicas: 1,
			MaxAckPending: auth.ConsumerMaxAckPending})
		return err
	}); err != nil {
		return 0, err
	}
	start := time.Now()
	for got := 0; got < backlog; {
		// Fetches as large as the agent's (Options.Batch's default).
		batch, err := raw.Fetch(auth.ConsumerMaxAckPending, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return 0, err
		}
		n := 0
		for m := range batch.Messages() {
			_ = m.Ack()
			n++
		}
		switch err := batch.Error(); {
		case n > 0 || err == nil || errors.Is(err, nats.ErrTimeout):
		case errors.Is(err, nats.ErrNoResponders) && ctx.Err() == nil:
			// A consumer just created may not answer yet on a loaded machine.
			time.Sleep(100 * time.Millisecond)
		default:
			return 0, err
		}
		got += n
	}
	return time.Since(start), nil
}

// ratio is a over b, 0 when b is not measured.
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// publishStamped publishes n messages of about an alert envelope's size
// on subject at rate, each starting with its publish time (UnixNano, big
// endian), and returns how many were acknowledged.
func publishStamped(ctx context.Context, js jetstream.JetStream, subject string, rate float64, n int) int {
	payload := make([]byte, 1500)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	sent := 0
	for range n {
		<-tick.C
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		if _, err := js.Publish(ctx, subject, payload); err == nil {
			sent++
		}
	}
	return sent
}

// consumeStamped consumes cons, telling col each message's latency from
// the publish time it starts with (publishStamped).
func consumeStamped(cons jetstream.Consumer, col *collector) (jetstream.ConsumeContext, error) {
	return cons.Consume(func(m jetstream.Msg) {
		sent := time.Unix(0, int64(binary.BigEndian.Uint64(m.Data())))
		_ = m.Ack()
		col.add([]*agent.Record{{Time: sent}})
	}, jetstream.PullExpiry(5*time.Second))
}
