package fanout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/chaos"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// ProcsFigures are what a run with agents in their own processes and
// nodes as `tocsin node` processes measured: memory is each process's
// resident set (VmRSS, VmHWM), attributed to whom it belongs.
type ProcsFigures struct {
	// Procs is how many agent processes ran the agents.
	Procs int `json:"procs"`
	// NodeStart is tocsin init and the three node processes starting
	// until the cluster is healthy.
	NodeStart time.Duration `json:"node_start"`
	// Members is how many members were admitted (the agents, the
	// publishers, the catch-up and the idle agent).
	Members int `json:"members"`
	// Admission is tocsin members add --lazy-consumers of every member.
	Admission time.Duration `json:"admission"`
	// Nodes are the node processes' resident sets.
	Nodes []NodeRSS `json:"nodes"`
	// AgentProcs are the agent processes' resident sets.
	AgentProcs []AgentProcRSS `json:"agent_procs"`
	// AgentRSSPerAgent is the agent processes' idle resident set (every
	// agent live) divided by the agents.
	AgentRSSPerAgent int64 `json:"agent_process_rss_per_agent_bytes"`
	// BrokerRSSPerAgent is what the three nodes' resident sets grew by
	// from admission to every agent live and idle (their consumers,
	// connections, pulls), divided by the agents.
	BrokerRSSPerAgent int64 `json:"broker_rss_per_agent_bytes"`
	// OneAgentIdle and OneAgentCatchUp are the resident set of a process
	// running one agent: live and idle, and at its highest while catching
	// up with the backlog.
	OneAgentIdle    int64 `json:"one_agent_process_idle_rss_bytes"`
	OneAgentCatchUp int64 `json:"one_agent_process_catch_up_peak_rss_bytes,omitempty"`
	// OneAgentBinary is what ran that one agent: the agent-only binary
	// (Options.AgentBinary) or the bench's child of Binary.
	OneAgentBinary string `json:"one_agent_binary"`
	// OneAgentIdleFile is the file pages among OneAgentIdle (the binary's
	// code and data it touched), measured with AgentBinary only.
	OneAgentIdleFile int64 `json:"one_agent_process_idle_rss_file_bytes,omitempty"`
}

// NodeRSS is one node process's resident set.
type NodeRSS struct {
	Name string `json:"name"`
	// Admitted is after admission, before any agent connected.
	Admitted int64 `json:"admitted_rss_bytes"`
	// Live is with every agent live and idle.
	Live int64 `json:"live_rss_bytes"`
	// Peak is the highest over the run (VmHWM).
	Peak int64 `json:"peak_rss_bytes"`
}

// AgentProcRSS is one agent process's resident set.
type AgentProcRSS struct {
	Agents int   `json:"agents"`
	Idle   int64 `json:"idle_rss_bytes"`
	Peak   int64 `json:"peak_rss_bytes"`
}

// rawStream is the raw side's stream and subject.
const rawStream, rawSubject = "BENCH_FANOUT", "bench.fanout"

// runProcs is Run with the agents in o.Procs child processes and the
// nodes as `tocsin node` processes (chaos.StartNodes): operator mode with
// member accounts, as production.
func runProcs(ctx context.Context, o Options, log *zap.Logger) (*Result, error) {
	res := &Result{Agents: o.Agents, Rate: o.Rate, Duration: o.Duration, Procs: &ProcsFigures{Procs: o.Procs}}
	pf := res.Procs
	for _, d := range []string{"logs", "agents", "creds"} {
		if err := os.MkdirAll(filepath.Join(o.DataDir, d), 0o700); err != nil {
			return nil, err
		}
	}
	o.Progress("tocsin init and three tocsin node processes (operator mode)")
	start := time.Now()
	nodes, err := chaos.StartNodes(ctx, o.Binary, filepath.Join(o.DataDir, "cluster"), "", log)
	if err != nil {
		return nil, err
	}
	defer nodes.Close()
	pf.NodeStart = time.Since(start)

	sectors := members.DefaultVocabulary().Sectors
	var ids []string
	for i := range o.Agents {
		ids = append(ids, fmt.Sprintf("agent-%05d", i))
	}
	seed := filepath.Join(o.DataDir, "members.csv")
	if err := writeSeed(seed, ids, sectors); err != nil {
		return nil, err
	}
	pf.Members = len(ids) + 3 + len(backlogSenders)
	o.Progress(fmt.Sprintf("tocsin members add --lazy-consumers: %d members", pf.Members))
	start = time.Now()
	creds := filepath.Join(o.DataDir, "creds")
	if err := nodes.Admit(ctx, seed, creds, "--lazy-consumers", "--timeout", "30m"); err != nil {
		return nil, err
	}
	pf.Admission = time.Since(start)
	credsOf := func(id string) string { return filepath.Join(creds, id+".creds") }

	svc, err := nats.Connect(nodes.URLs(), nats.UserCredentials(nodes.ServiceCreds()), nats.RootCAs(nodes.CA()), nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	js, _ := jetstream.New(svc, jetstream.WithPublishAsyncMaxPending(512))
	pub, err := client.Connect(ctx, client.Options{Servers: nodes.URLs(), CredsFile: credsOf("bench-pub"), Name: "bench publisher",
		NATS: []nats.Option{nats.RootCAs(nodes.CA()), nats.MaxReconnects(-1)}})
	if err != nil {
		return nil, err
	}
	defer pub.Close()

	admitted := nodeRSS(nodes)
	var ps procSet
	defer func() { ps.close() }()
	per := (o.Agents + o.Procs - 1) / o.Procs
	for i := 0; i < o.Procs && i*per < o.Agents; i++ {
		spec := ChildSpec{Servers: nodes.URLs(), CA: nodes.CA(), Dir: filepath.Join(o.DataDir, "agents"), Receipts: o.Receipts,
			RawCreds: nodes.ServiceCreds(), RawStream: rawStream}
		for j := i * per; j < min(o.Agents, (i+1)*per); j++ {
			spec.Agents = append(spec.Agents, ChildAgent{ID: ids[j], Creds: credsOf(ids[j])})
			spec.RawConsumers = append(spec.RawConsumers, fmt.Sprint("raw-", j))
		}
		name := fmt.Sprintf("agents-%d", i)
		p, err := startChild(o.Binary, name, childLog(o.DataDir, name), spec)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	o.Progress(fmt.Sprintf("starting %d agents in %d processes (their consumers created as each first connects)", o.Agents, len(ps)))
	start = time.Now()
	live, err := ps.ask(ctx, opAgents)
	if err != nil {
		return nil, err
	}
	res.Setup = time.Since(start)
	var agentRSS int64
	for _, r := range live {
		pf.AgentProcs = append(pf.AgentProcs, AgentProcRSS{Agents: r.Live, Idle: r.RSS})
		agentRSS += r.RSS
	}
	pf.AgentRSSPerAgent = agentRSS / int64(o.Agents)
	liveRSS := nodeRSS(nodes)
	var grew int64
	for i, n := range nodes.Names() {
		pf.Nodes = append(pf.Nodes, NodeRSS{Name: n, Admitted: admitted[i][0], Live: liveRSS[i][0]})
		grew += liveRSS[i][0] - admitted[i][0]
	}
	pf.BrokerRSSPerAgent = grew / int64(o.Agents)

	o.Progress(fmt.Sprintf("tocsin: %.1f alerts/s for %s to %d agents", o.Rate, o.Duration, o.Agents))
	n := int(o.Rate * o.Duration.Seconds())
	io := startPressure()
	sent, err := publishMember(ctx, pub, n, sectors, o.Rate)
	if err != nil {
		return nil, err
	}
	ps.waitDelivered(ctx, sent*o.Agents, 2*time.Minute)
	reps, err := ps.ask(ctx, opStop)
	if err != nil {
		return nil, err
	}
	res.Tocsin = figuresOf(reps, sent, sent*o.Agents)
	res.Tocsin.IOPressure = io.share()
	for i, r := range reps {
		pf.AgentProcs[i].Peak = r.PeakRSS
	}
	o.Progress("tocsin: " + res.Tocsin.String())

	o.Progress("raw: the same rate to as many plain consumers, in the same processes")
	if res.Raw, err = rawProcs(ctx, js, ps, o, nodes); err != nil {
		return nil, err
	}
	o.Progress("raw: " + res.Raw.String())
	if res.CatchUp, err = catchUpProc(ctx, js, nodes, o, credsOf, pf); err != nil {
		return nil, err
	}
	for i, r := range nodeRSS(nodes) {
		pf.Nodes[i].Peak = r[1]
	}
	return res, nil
}

// writeSeed writes the members of a --procs run as the .csv tocsin
// members add reads: the publisher, the catch-up agent, the backlog's
// senders and the agents, sectors round-robin.
func writeSeed(path string, ids, sectors []string) error {
	var b strings.Builder
	b.WriteString("id,name,sectors,region,roles,contact\n")
	fmt.Fprintf(&b, "bench-pub,publisher,patient-care,northeast,member,\n")
	fmt.Fprintf(&b, "bench-catchup,catch-up agent,federal,northeast,member,\n")
	fmt.Fprintf(&b, "bench-idle,idle agent,federal,northeast,member,\n")
	for _, id := range backlogSenders {
		fmt.Fprintf(&b, "%s,backlog publisher,patient-care,northeast,member,\n", id)
	}
	for i, id := range ids {
		fmt.Fprintf(&b, "%s,%s,%s,northeast,member,\n", id, id, sectors[i%len(sectors)])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// nodeRSS is each node process's [VmRSS, VmHWM].
func nodeRSS(nodes *chaos.Nodes) [][2]int64 {
	var out [][2]int64
	for _, pid := range nodes.Pids() {
		rss, peak := ProcRSS(pid)
		out = append(out, [2]int64{rss, peak})
	}
	return out
}

// publishMember publishes n GREEN alerts to sectors as the member of c at
// rate (0: as fast as the PubAcks allow), each awaited.
func publishMember(ctx context.Context, c *client.Client, n int, sectors []string, rate float64) (int, error) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	sent := 0
	for i := range n {
		<-tick.C
		if _, err := c.Publish(ctx, tocsinv1.Kind_KIND_ALERT, benchAlert(i, sectors)); err != nil {
			if ctx.Err() != nil {
				return sent, ctx.Err()
			}
			continue
		}
		sent++
	}
	return sent, nil
}

// benchAlert is alert i of a run: GREEN, its own indicator.
func benchAlert(i int, sectors []string) *tocsinv1.Alert {
	return &tocsinv1.Alert{Title: fmt.Sprint("bench alert ", i), Lane: tocsinv1.Lane_LANE_URGENT, Sectors: sectors, Tlp: tocsinv1.TLP_TLP_GREEN,
		StixBundle: bundle(fmt.Sprintf("c2-%d-%s.example", i, randomHex(4)), tlp.MarkingGreen), RecommendedAction: "block the domain"}
}

// rawProcs is the raw side: an R3 stream in the TOCSIN account, one R1
// durable per agent, consumed in the agents' processes.
func rawProcs(ctx context.Context, js jetstream.JetStream, ps procSet, o Options, nodes *chaos.Nodes) (Figures, error) {
	if err := retry(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: rawStream, Subjects: []string{rawSubject}, Replicas: 3,
			Storage: jetstream.FileStorage, MaxConsumers: -1})
		return err
	}); err != nil {
		return Figures{}, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), rawStream)
	for i := range o.Agents {
		if err := retry(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(ctx, rawStream, jetstream.ConsumerConfig{Durable: fmt.Sprint("raw-", i),
				AckPolicy: jetstream.AckExplicitPolicy, Replicas: 1})
			return err
		}); err != nil {
			return Figures{}, err
		}
	}
	if _, err := ps.ask(ctx, opRaw); err != nil {
		return Figures{}, err
	}
	if err := waitPulls(ctx, js, o.Agents); err != nil {
		return Figures{}, err
	}
	n := int(o.Rate * o.Duration.Seconds())
	io := startPressure()
	sent := publishStamped(ctx, js, rawSubject, o.Rate, n)
	ps.waitDelivered(ctx, sent*o.Agents, 2*time.Minute)
	reps, err := ps.ask(ctx, opStop)
	if err != nil {
		return Figures{}, err
	}
	f := figuresOf(reps, sent, sent*o.Agents)
	f.IOPressure = io.share()
	return f, nil
}

// waitPulls waits until each of the n raw consumers has a pull waiting.
func waitPulls(ctx context.Context, js jetstream.JetStream, n int) error {
	for i := range n {
		if err := retry(ctx, func(ctx context.Context) error {
			c, err := js.Consumer(ctx, rawStream, fmt.Sprint("raw-", i))
			if err == nil && c.CachedInfo().NumWaiting == 0 {
				err = fmt.Errorf("raw-%d has no pull request yet", i)
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// catchUpProc runs one agent in a process of its own until it is live and
// idle (its resident set), routes o.CatchUp alerts to the catch-up agent,
// which never ran, and times it catching up in a process of its own until
// it wrote them all (its peak resident set); then a plain durable consumer
// reads the same backlog.
func catchUpProc(ctx context.Context, js jetstream.JetStream, nodes *chaos.Nodes, o Options, credsOf func(string) string, pf *ProcsFigures) (*CatchUpFigures, error) {
	spec := ChildSpec{Servers: nodes.URLs(), CA: nodes.CA(), Dir: filepath.Join(o.DataDir, "agents"), Receipts: o.Receipts,
		Agents: []ChildAgent{{ID: "bench-idle", Creds: credsOf("bench-idle")}}}
	pf.OneAgentBinary = o.Binary + " bench fanout child"
	if o.AgentBinary != "" {
		pf.OneAgentBinary = o.AgentBinary
	}
	var err error
	if pf.OneAgentIdle, err = oneAgentIdle(ctx, o, nodes, credsOf, spec, pf); err != nil {
		return nil, err
	}
	if o.CatchUp <= 0 {
		return nil, nil
	}
	// The catch-up agent never ran: its consumers are created as the
	// agent service would (an agent stopped after it ran would leave pull
	// requests open that take the backlog's first messages, delivered again
	// only an ack wait later, docs/AGENT.md).
	catchUpMember := &tocsinv1.Member{Id: "bench-catchup", Sectors: []string{"federal"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	if err := createConsumers(ctx, js, []string{"bench-catchup"}, map[string]*tocsinv1.Member{"bench-catchup": catchUpMember}, o.Progress); err != nil {
		return nil, err
	}
	spec.Agents = []ChildAgent{{ID: "bench-catchup", Creds: credsOf("bench-catchup")}}
	o.Progress(fmt.Sprintf("catch-up: routing %d alerts to a stopped agent", o.CatchUp))
	f := &CatchUpFigures{Alerts: o.CatchUp}
	start := time.Now()
	if err := publishBacklog(ctx, nodes, credsOf, o.CatchUp); err != nil {
		return nil, err
	}
	o.Progress(fmt.Sprintf("catch-up: %d alerts acknowledged in %s", o.CatchUp, time.Since(start).Round(time.Millisecond)))
	backlog, err := waitBacklog(ctx, js, o.CatchUp, o.Progress)
	if err != nil {
		return nil, err
	}
	f.RouteTime, f.Alerts = time.Since(start), backlog
	o.Progress(fmt.Sprintf("catch-up: %d waiting, routed in %s; starting the agent in a new process", backlog, f.RouteTime.Round(time.Millisecond)))
	if o.AgentBinary != "" {
		if f.AgentTime, pf.OneAgentCatchUp, err = realAgentCatchUp(ctx, o, nodes, credsOf, backlog); err != nil {
			return nil, err
		}
		return rawSideOfCatchUp(ctx, js, o, f, backlog)
	}
	p, err := startChild(o.Binary, "catch-up", childLog(o.DataDir, "catch-up"), spec)
	if err != nil {
		return nil, err
	}
	ps := procSet{p}
	defer ps.close()
	start = time.Now()
	if _, err := ps.ask(ctx, opAgents); err != nil {
		return nil, err
	}
	ps.waitDelivered(ctx, backlog, 30*time.Minute)
	f.AgentTime = time.Since(start)
	reps, err := ps.ask(ctx, opStop)
	if err != nil {
		return nil, err
	}
	if reps[0].Delivered < backlog {
		return nil, fmt.Errorf("%w: the catch-up agent wrote %d of %d", errChild, reps[0].Delivered, backlog)
	}
	pf.OneAgentCatchUp = reps[0].PeakRSS
	return rawSideOfCatchUp(ctx, js, o, f, backlog)
}

// oneAgentIdle is the resident set of a process running the one agent
// of spec, live and idle: o.AgentBinary's (realAgentIdle) or a child's.
func oneAgentIdle(ctx context.Context, o Options, nodes *chaos.Nodes, credsOf func(string) string, spec ChildSpec, pf *ProcsFigures) (int64, error) {
	if o.AgentBinary != "" {
		rss, file, err := realAgentIdle(ctx, o, nodes, credsOf)
		pf.OneAgentIdleFile = file
		return rss, err
	}
	idle, err := startChild(o.Binary, "one-agent", childLog(o.DataDir, "one-agent"), spec)
	if err != nil {
		return 0, err
	}
	reps, err := procSet{idle}.ask(ctx, opAgents)
	idle.close()
	if err != nil {
		return 0, err
	}
	return reps[0].RSS, nil
}

// rawSideOfCatchUp notes the agent's catch-up rate in f and times a plain
// durable consumer reading the same backlog.
func rawSideOfCatchUp(ctx context.Context, js jetstream.JetStream, o Options, f *CatchUpFigures, backlog int) (*CatchUpFigures, error) {
	var err error
	f.AgentPerSec = float64(backlog) / f.AgentTime.Seconds()
	o.Progress(fmt.Sprintf("catch-up: the agent wrote %d in %s (%.0f/s); now a plain durable consumer", backlog, f.AgentTime.Round(time.Millisecond), f.AgentPerSec))
	if f.RawTime, err = rawCatchUp(ctx, js, backlog); err != nil {
		return nil, err
	}
	f.RawPerSec = float64(backlog) / f.RawTime.Seconds()
	return f, nil
}

// publishBacklog publishes n FEDERAL alerts, the backlog senders in turn
// (the router takes each sender's messages in order), asynchronously.
func publishBacklog(ctx context.Context, nodes *chaos.Nodes, credsOf func(string) string, n int) error {
	var cs []*client.Client
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for _, id := range backlogSenders {
		c, err := client.Connect(ctx, client.Options{Servers: nodes.URLs(), CredsFile: credsOf(id), Name: "bench backlog",
			NATS: []nats.Option{nats.RootCAs(nodes.CA()), nats.MaxReconnects(-1)}})
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	var futures []jetstream.PubAckFuture
	for i := range n {
		c := cs[i%len(cs)]
		env, err := c.Signer().Seal(tocsinv1.Kind_KIND_ALERT, benchAlert(i, []string{"federal"}))
		if err != nil {
			return err
		}
		data, _ := envelope.Marshal(env)
		msg := nats.NewMsg(subjects.Ingest(subjects.KindAlert, c.Member()))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		fut, err := c.JetStream().PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
		if err != nil {
			return err
		}
		futures = append(futures, fut)
	}
	for _, fut := range futures {
		if err := jsctx.AwaitPubAck(ctx, fut); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// waitBacklog waits until the catch-up agent's federal consumer has at
// least n messages pending, and returns how many it has; progress hears
// what it waits for every 10 seconds.
func waitBacklog(ctx context.Context, js jetstream.JetStream, n int, progress func(string)) (int, error) {
	name := auth.SectorConsumer("bench-catchup", "federal")
	began, told := time.Now(), time.Now()
	for {
		var why string
		if cons, err := js.Consumer(ctx, subjects.StreamSectors, name); err != nil {
			why = fmt.Sprintf("consumer %s: %v", name, err)
		} else if info, err := cons.Info(ctx); err != nil {
			why = fmt.Sprintf("consumer %s: %v", name, err)
		} else if info.NumPending >= uint64(n) {
			return int(info.NumPending), nil
		} else {
			why = fmt.Sprintf("%d of %d pending", info.NumPending, n)
		}
		if time.Since(told) > 10*time.Second {
			progress(fmt.Sprintf("catch-up: after %s, %s", time.Since(began).Round(time.Second), why))
			told = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
