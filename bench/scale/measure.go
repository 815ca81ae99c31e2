package scale

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// liaison is the benchmark's liaison: it sends the advisory to all and
// reads its reach.
const liaison = "scale-liaison"

// memberID is member i of a run.
func memberID(i int) string { return fmt.Sprintf("m-%05d", i) }

// measure sets up a cluster of n members in dir and measures it.
func measure(ctx context.Context, o Options, n int, dir string, log *zap.Logger) (*Point, error) {
	p := &Point{Members: n}
	say := func(format string, args ...any) {
		o.Progress(fmt.Sprintf("%d members: ", n) + fmt.Sprintf(format, args...))
	}
	say("tocsin init and three tocsin node processes (operator mode, TLS, HTTPS)")
	c, err := startCluster(ctx, o.Binary, dir, o.ResolverSync)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sys, err := c.sysConn()
	if err != nil {
		return nil, err
	}
	defer sys.Close()
	svc, err := nats.Connect(c.URLs(), nats.UserCredentials(c.ServiceCreds()), nats.RootCAs(c.CA()), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("%w: service connection: %v", ErrCluster, err)
	}
	defer svc.Close()
	js, _ := jetstream.New(svc)

	seed, creds := filepath.Join(dir, "members.csv"), filepath.Join(dir, "creds")
	if err := writeSeed(seed, n); err != nil {
		return nil, err
	}
	before, err := c.raft(ctx, sys)
	if err != nil {
		return nil, err
	}
	say("tocsin members add --file --lazy-consumers")
	start := time.Now()
	if err := c.admit(ctx, seed, creds, func(line string) { say("%s", line) }); err != nil {
		return nil, err
	}
	p.Admission = time.Since(start)
	say("admitted in %s; creating every member's consumers, %d at once, as each member's agent has them created when it first connects", p.Admission.Round(time.Millisecond), o.Senders)
	start = time.Now()
	if err := createConsumers(ctx, js, o.Senders, log); err != nil {
		return nil, err
	}
	p.ConsumersCreated = time.Since(start)
	admitted, err := c.raft(ctx, sys)
	if err != nil {
		return nil, err
	}
	p.MetaEntriesAdmission = admitted.metaCommitted - before.metaCommitted
	p.NoQuorumWarnings = c.logged(noQuorum)
	say("consumers created in %s; %d meta entries since admission began; %d no-quorum warnings in the nodes' logs; idle for %s",
		p.ConsumersCreated.Round(time.Millisecond), p.MetaEntriesAdmission, p.NoQuorumWarnings, o.Idle)

	if err := idle(ctx, c, sys, o.Idle, p); err != nil {
		return nil, err
	}
	if p.Consumers, err = consumers(ctx, js); err != nil {
		return nil, err
	}
	say("%d consumers, %d raft groups (%d on the busiest node), idle: %.1f meta entries/min, %.2f cores, node RSS %d MiB",
		p.Consumers, p.RaftGroups, p.RaftGroupsPerNode, p.MetaEntriesIdlePerMin, p.IdleCores, p.NodeRSS>>20)

	credsOf := func(id string) string { return filepath.Join(creds, id+".creds") }
	if err := directory(ctx, c, credsOf(memberID(0)), p); err != nil {
		return nil, err
	}
	say("directory: %d KiB in %s", p.DirectoryBytes>>10, p.DirectoryTime.Round(time.Millisecond))
	if err := agentStart(ctx, c, credsOf(memberID(0)), filepath.Join(dir, "agent"), p); err != nil {
		return nil, err
	}
	say("an agent live in %s, %d KiB read", p.AgentStart.Round(time.Millisecond), p.AgentStartBytesIn>>10)
	say("the liaison's advisory to every sector, %d receipts, %d senders at once", n, o.Senders)
	id, err := reachAll(ctx, c, js, n, credsOf, o, p)
	if err != nil {
		return nil, err
	}
	say("reach: receipts sent after %s, all %d delivered after %s; REACH %d keys, %d KiB, %d writes", p.ReceiptsSent.Round(time.Millisecond), n, p.ReachAllDelivered.Round(time.Millisecond), p.ReachKeys, p.ReachBytes>>10, p.ReachWrites)
	if err := pages(ctx, c, id, credsOf, p); err != nil {
		return nil, err
	}
	for _, pg := range p.Pages {
		say("%s: first byte %s, %d KiB", pg.Name, pg.TTFB.Round(time.Millisecond), pg.Bytes>>10)
	}
	say("failover: SIGKILL of the meta leader")
	if err := failover(ctx, c, sys, svc, js, p, log); err != nil {
		return nil, err
	}
	say("failover: writes again after %s, the meta layer after %s; start-up on its data until ready: %s",
		p.FailoverWrite.Round(time.Millisecond), p.FailoverMeta.Round(time.Millisecond), p.Startup.Round(time.Millisecond))
	p.Load = loadAverage()
	return p, nil
}

// writeSeed writes the .csv tocsin members add reads: the liaison and n
// members, the sectors round-robin.
func writeSeed(path string, n int) error {
	sectors := members.DefaultVocabulary().Sectors
	var b strings.Builder
	b.WriteString("id,name,sectors,region,roles,contact\n")
	fmt.Fprintf(&b, "%s,scale liaison,%s,northeast,liaison,\n", liaison, sectors[0])
	for i := range n {
		fmt.Fprintf(&b, "%s,Member %d,%s,northeast,member,\n", memberID(i), i, sectors[i%len(sectors)])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// createConsumers creates every registered member's consumers (auth.EnsureConsumers,
// what the agent service does at a member's first connection with
// --lazy-consumers), at most parallel at once.
func createConsumers(ctx context.Context, js jetstream.JetStream, parallel int, log *zap.Logger) error {
	reg, err := members.OpenUncached(ctx, js, members.DefaultVocabulary(), log)
	if err != nil {
		return fmt.Errorf("%w: the registry: %v", ErrCluster, err)
	}
	all, err := reg.List(ctx)
	if err != nil {
		return fmt.Errorf("%w: the registry: %v", ErrCluster, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *tocsinv1.Member)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				if err := until(ctx, 5*time.Minute, func(ctx context.Context) error { return auth.EnsureConsumers(ctx, js, m) }); err != nil {
					errs <- fmt.Errorf("%w: the consumers of %s: %v", ErrCluster, m.GetId(), err)
					cancel()
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, m := range all {
			select {
			case work <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// idle watches the admitted cluster doing nothing for d: the meta
// group's entries, the nodes' CPU, their memory and stores after.
func idle(ctx context.Context, c *cluster, sys *nats.Conn, d time.Duration, p *Point) error {
	before, err := c.raft(ctx, sys)
	if err != nil {
		return err
	}
	cpu0, t0 := c.cpu(), time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
	}
	cpu1, elapsed := c.cpu(), time.Since(t0)
	after, err := c.raft(ctx, sys)
	if err != nil {
		return err
	}
	p.MetaEntriesIdlePerMin = float64(after.metaCommitted-before.metaCommitted) / elapsed.Minutes()
	p.MetaWALBytes = after.metaWAL
	p.IdleCores = (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	p.RaftGroups = after.totalGroups()
	for _, g := range after.groups {
		p.RaftGroupsPerNode = max(p.RaftGroupsPerNode, g)
	}
	for _, n := range c.nodes {
		p.NodeRSS = max(p.NodeRSS, rss(n.pid()))
		p.StoreBytes += dirBytes(n.store)
	}
	return nil
}

// consumers counts every stream's consumers.
func consumers(ctx context.Context, js jetstream.JetStream) (int, error) {
	total := 0
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("%w: stream %s: %v", ErrCluster, name, err)
		}
		total += s.CachedInfo().State.Consumers
	}
	if err := names.Err(); err != nil {
		return 0, fmt.Errorf("%w: listing the streams: %v", ErrCluster, err)
	}
	return total, nil
}

// cpu is the CPU time the running node processes have used.
func (c *cluster) cpu() time.Duration {
	var total time.Duration
	for _, n := range c.nodes {
		total += procCPU(n.pid())
	}
	return total
}

// procCPU is the user and system time of process pid (/proc/PID/stat),
// 0 when unknown.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	// After the command: state is field 3 of stat, utime 14, stime 15.
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// rss is process pid's resident set (VmRSS), 0 when unknown.
func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// loadAverage is the machine's 1-minute load average, 0 when unknown.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
