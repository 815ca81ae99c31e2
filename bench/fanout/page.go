package fanout

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/agent/paging"
	"github.com/tocsin-project/tocsin/agent/paging/pdtest"
	"github.com/tocsin-project/tocsin/bench"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// PageOptions configures RunPage. The zero value of each field is its
// default.
type PageOptions struct {
	// Agents is how many member agents run, each with a PagerDuty
	// endpoint of its own (an in-process Events API v2). Default 100.
	Agents int
	// Alerts is how many flash alerts are published, each to every
	// sector. Default 20.
	Alerts int
	// Interval is the time between two alerts. Default 500ms.
	Interval time.Duration
	// EscalateAfter is the second step's delay: nobody acknowledges, so
	// each page escalates once. Default 2s.
	EscalateAfter time.Duration
	// DataDir holds the cluster, the agents' state and sinks. Required.
	DataDir string
	// Progress, when set, is told what the benchmark is doing.
	Progress func(string)
}

// PageResult is what RunPage measured.
type PageResult struct {
	Agents int `json:"agents"`
	Alerts int `json:"alerts"`
	// Sink is publish (seal) to the JSONL sink's fsync; Page is publish to
	// the PagerDuty endpoint's 202, both for every agent and alert.
	Sink bench.Latency `json:"publish_to_sink"`
	Page bench.Latency `json:"publish_to_page"`
	// AddedP99 is Page.P99 less Sink.P99: what paging adds at p99 (goal at
	// most 100 ms).
	AddedP99 time.Duration `json:"page_added_p99"`
	// Written and Paged count sink deliveries and PagerDuty triggers;
	// Expected is agents x alerts for each.
	Written  int `json:"written"`
	Paged    int `json:"paged"`
	Expected int `json:"expected"`
	// Escalation is how late the second steps fired after their deadline
	// (goal: within 1 s); Escalated counts them.
	Escalation bench.Latency `json:"escalation_late"`
	Escalated  int           `json:"escalated"`
}

// stepClock is the benchmark's second escalation step: it notes when each
// page reached it.
type stepClock struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (*stepClock) Name() string { return "bench-escalation" }
func (s *stepClock) Trigger(_ context.Context, p paging.Page) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[p.Message.ID] = time.Now()
	return nil
}
func (*stepClock) Acknowledge(context.Context, paging.Page) error { return nil }
func (*stepClock) Resolve(context.Context, paging.Page) error     { return nil }

// RunPage publishes flash alerts to agents that page, and compares
// publish-to-page with publish-to-sink in the same run.
func RunPage(ctx context.Context, o PageOptions, log *zap.Logger) (*PageResult, error) {
	if o.Agents == 0 {
		o.Agents = 100
	}
	if o.Alerts == 0 {
		o.Alerts = 20
	}
	if o.Interval == 0 {
		o.Interval = 500 * time.Millisecond
	}
	if o.EscalateAfter == 0 {
		o.EscalateAfter = 2 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.DataDir == "" || o.Agents < 0 || o.Alerts < 0 || o.Interval < 0 || o.EscalateAfter < 0 {
		return nil, fmt.Errorf("%w: a data directory is required; counts and durations cannot be negative", ErrOptions)
	}
	if log == nil {
		log = zap.NewNop()
	}
	cast, ids := benchCast(o.Agents)
	o.Progress(fmt.Sprintf("starting a 3-node cluster with %d members", len(cast)))
	b, err := startCluster(ctx, o.DataDir, cast, log.Named("nats"))
	if err != nil {
		return nil, err
	}
	defer b.close()
	byID := map[string]*tocsinv1.Member{}
	for _, m := range cast {
		byID[m.GetId()] = m
	}
	if err := createConsumers(ctx, b.js, ids, byID, o.Progress); err != nil {
		return nil, err
	}

	var (
		mu      sync.Mutex
		sealed  = map[string]time.Time{}
		sinkLat []time.Duration
	)
	onWrite := func(recs []*agent.Record) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			sealed[r.ID] = r.Time
			sinkLat = append(sinkLat, now.Sub(r.Time))
		}
	}
	endpoints := make([]*pdtest.Server, 0, o.Agents)
	defer func() {
		for _, s := range endpoints {
			s.Close()
		}
	}()
	clocks := map[string]*stepClock{}
	pager := func(id, dir string) (*paging.Pager, error) {
		pd := pdtest.New("key-" + id)
		endpoints = append(endpoints, pd)
		ch, err := paging.NewPagerDuty(paging.PagerDutyOptions{URL: pd.EnqueueURL(), RoutingKey: "key-" + id, Source: "bench " + id})
		if err != nil {
			return nil, err
		}
		clock := &stepClock{at: map[string]time.Time{}}
		clocks[id] = clock
		return paging.New(paging.Options{Dir: filepath.Join(dir, "pages"), Channels: []paging.Channel{ch, clock},
			Policy: paging.Policy{Steps: []paging.Step{{Channel: "pagerduty"}, {Channel: clock.Name(), After: o.EscalateAfter}}}})
	}
	o.Progress(fmt.Sprintf("starting %d agents, each with its own PagerDuty endpoint", o.Agents))
	agents, err := startAgents(ctx, b, Options{DataDir: o.DataDir, Receipts: agent.ReceiptsAll}, ids, onWrite, pager)
	if err != nil {
		return nil, err
	}
	defer agents.stop()
	if err := waitLive(ctx, agents.list); err != nil {
		return nil, err
	}
	o.Progress(fmt.Sprintf("publishing %d flash alerts, one every %s", o.Alerts, o.Interval))
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	sent, err := publishN(ctx, b, []string{"bench-pub"}, o.Alerts, nil, tocsinv1.Lane_LANE_FLASH, func() { <-tick.C })
	if err != nil {
		return nil, err
	}
	res := &PageResult{Agents: o.Agents, Alerts: sent, Expected: sent * o.Agents}
	// Every page escalates once: wait for the last deadline and a margin.
	deadline := time.Now().Add(o.EscalateAfter + time.Minute)
	count := func() (written, paged, escalated int) {
		mu.Lock()
		written = len(sinkLat)
		mu.Unlock()
		for _, pd := range endpoints {
			paged += len(pd.Events())
		}
		for _, c := range clocks {
			c.mu.Lock()
			escalated += len(c.at)
			c.mu.Unlock()
		}
		return
	}
	for time.Now().Before(deadline) {
		if w, p, e := count(); w >= res.Expected && p >= res.Expected && e >= res.Expected {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	o.Progress("stopping the agents")
	agents.stop()
	mu.Lock()
	defer mu.Unlock()
	var pageLat, late []time.Duration
	for i, pd := range endpoints {
		clock := clocks[ids[i]]
		for _, ev := range pd.Events() {
			t, ok := sealed[ev.DedupKey]
			if !ok {
				continue
			}
			pageLat = append(pageLat, ev.At.Sub(t))
			if at, ok := clock.at[ev.DedupKey]; ok {
				late = append(late, at.Sub(ev.At.Add(o.EscalateAfter)))
			}
		}
	}
	res.Written, res.Paged, res.Escalated = len(sinkLat), len(pageLat), len(late)
	res.Sink, res.Page, res.Escalation = latencies(sinkLat), latencies(pageLat), latencies(late)
	res.AddedP99 = res.Page.P99 - res.Sink.P99
	return res, nil
}

// benchCast is the publisher, the services and n agents spread over the
// default sectors.
func benchCast(n int) ([]*tocsinv1.Member, []string) {
	sectors := members.DefaultVocabulary().Sectors
	cast := []*tocsinv1.Member{
		{Id: "bench-pub", Name: "publisher", Sectors: []string{"patient-care"}, Region: "northeast", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		{Id: "svc-bench", Name: "bench services", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}},
	}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("agent-%04d", i)
		ids = append(ids, id)
		cast = append(cast, &tocsinv1.Member{Id: id, Name: id, Sectors: []string{sectors[i%len(sectors)]}, Region: "northeast",
			Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}})
	}
	return cast, ids
}
