package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/subjects"
)

// The faults the nemesis injects.
const (
	// FaultKill SIGKILLs one node and restarts it after the hold.
	FaultKill = "kill"
	// FaultPause SIGSTOPs one node and SIGCONTs it after the hold.
	FaultPause = "pause"
	// FaultRollingRestart restarts every node in turn (SIGTERM, start,
	// wait until the cluster is healthy again).
	FaultRollingRestart = "rolling-restart"
	// FaultPartition cuts one node off from the others through the route
	// proxies, confirmed by the nodes' /status, and heals after the hold.
	FaultPartition = "partition"
	// FaultLatency delays every route by Options.Latency each way.
	FaultLatency = "latency"
	// FaultLeaderKill SIGKILLs the node that leads the INGEST stream (in
	// regions, a random region's INGEST-<region>).
	FaultLeaderKill = "leader-kill"
	// FaultAgentCrash SIGKILLs one member agent and restarts it.
	FaultAgentCrash = "agent-crash"
	// FaultPowerLoss kills every node at once and takes from each store
	// what it had not fsynced (the stores are on lazy file systems; skipped
	// where FUSE is unavailable), then restarts them.
	FaultPowerLoss = "power-loss"
	// FaultSiteCut is a member site's WAN cut: every proxy of its leaf
	// link resets it and refuses it again, for Options.SiteCut; the site
	// queues what its member sends and its agent reads what was sourced.
	FaultSiteCut = "site-cut"
	// FaultSitePowerLoss SIGKILLs a site process (with its data on a lazy
	// file system when the run has one, also what it had not fsynced) and
	// starts it again after the hold.
	FaultSitePowerLoss = "site-power-loss"
	// FaultSiteSlow paces a site's leaf link to Options.SlowLink (50
	// kbit/s) each way for the hold.
	FaultSiteSlow = "site-slow"
	// FaultGatewayCut cuts east or west (at random) off from the other
	// regions: every gateway connection between them is refused.
	FaultGatewayCut = "gateway-cut"
	// FaultRegionLoss SIGKILLs the three nodes of east or west at once
	// (the first injection's region drawn from the seed, then the other
	// region's in turn) and starts them after the hold: each region holds
	// its own stream set, so the lost region's acknowledged messages wait
	// on its disks until it returns, and its members' agents fail over to
	// the other region (docs/REGIONS.md).
	FaultRegionLoss = "region-loss"
)

// FaultNames lists every fault.
func FaultNames() []string {
	return append(append(DefaultFaults(), FaultPowerLoss), RegionFaults()...)
}

// DefaultFaults are the faults a run injects unless told otherwise: all
// but the power loss, which needs root and FUSE and is asked for by name,
// and the region faults, which a regions run adds (Options.Regions).
func DefaultFaults() []string {
	return append(NodeFaults(), FaultAgentCrash, FaultSiteCut, FaultSitePowerLoss, FaultSiteSlow)
}

// NodeFaults are the faults that hit the nodes holding the streams (in
// regions, any node of east or west).
func NodeFaults() []string {
	return []string{FaultKill, FaultPause, FaultRollingRestart, FaultPartition, FaultLatency, FaultLeaderKill}
}

// SiteFaults are the faults that hit a member site.
func SiteFaults() []string { return []string{FaultSiteCut, FaultSitePowerLoss, FaultSiteSlow} }

// RegionFaults are the faults of a regions run.
func RegionFaults() []string { return []string{FaultGatewayCut, FaultRegionLoss} }

// injection is one fault in force: heal undoes it; after, if set, says
// what the fault did once healed, or why it did not happen.
type injection struct {
	victim string
	detail string
	hold   time.Duration
	heal   func(ctx context.Context) error
	after  func() (string, error)
}

// inject starts fault f on the world and returns how to heal it.
func (w *world) inject(ctx context.Context, f string) (*injection, error) {
	switch f {
	case FaultKill, FaultLeaderKill:
		n := w.randomNode()
		detail := "random node"
		if f == FaultLeaderKill {
			stream := subjects.StreamIngest
			if sets := w.cl.lay.sets; len(sets) > 0 {
				stream = subjects.RegionStream(stream, sets[w.rng.IntN(len(sets))])
			}
			leader, err := w.cl.streamLeader(ctx, stream)
			if err != nil {
				return nil, err
			}
			n, detail = leader, stream+" leader"
		}
		if err := n.proc.Kill(ctx); err != nil {
			return nil, err
		}
		return &injection{victim: n.name, detail: detail + " SIGKILLed", heal: func(context.Context) error { return n.proc.Start() }}, nil
	case FaultPause:
		n := w.randomNode()
		if err := n.proc.Pause(); err != nil {
			return nil, err
		}
		return &injection{victim: n.name, detail: "SIGSTOP", heal: func(context.Context) error { return n.proc.Resume() }}, nil
	case FaultRollingRestart:
		if err := w.cl.RollingRestart(ctx); err != nil {
			return nil, err
		}
		return &injection{victim: "every node", detail: "SIGTERM, start, healthy; one at a time", heal: func(context.Context) error { return nil }}, nil
	case FaultPartition:
		n := w.randomNode()
		w.cl.Isolate(n)
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		how, err := w.cl.ConfirmIsolated(cctx, n)
		if err != nil {
			w.cl.HealNetwork()
			return nil, fmt.Errorf("partition of %s not confirmed by the nodes: %w", n.name, err)
		}
		return &injection{victim: n.name, detail: "isolated, confirmed: " + how, heal: func(context.Context) error { w.cl.HealNetwork(); return nil }}, nil
	case FaultLatency:
		w.cl.SetLatency(w.opts.Latency)
		return &injection{victim: "every route", detail: fmt.Sprintf("+%s each way", w.opts.Latency),
			heal: func(context.Context) error { w.cl.SetLatency(0); return nil }}, nil
	case FaultPowerLoss:
		lost, err := w.cl.PowerLoss(ctx)
		if err != nil {
			return nil, err
		}
		return &injection{victim: "every node", detail: "SIGKILL at once, unsynced writes lost: " + lost, heal: func(context.Context) error {
			for _, n := range w.cl.nodes {
				if err := n.proc.Start(); err != nil {
					return err
				}
			}
			return nil
		}}, nil
	case FaultAgentCrash:
		a := w.agents[w.rng.IntN(len(w.agents))]
		if err := a.proc.Kill(ctx); err != nil {
			return nil, err
		}
		return &injection{victim: a.spec.Member, detail: "SIGKILL, restarted after the hold", heal: func(context.Context) error { return a.proc.Start() }}, nil
	case FaultSiteCut, FaultSitePowerLoss, FaultSiteSlow:
		return w.injectSite(ctx, f)
	case FaultGatewayCut, FaultRegionLoss:
		return w.injectRegion(ctx, f)
	}
	return nil, fmt.Errorf("unknown fault %q", f)
}

// randomNode is a node that holds streams: of one cluster, or of east or
// west.
func (w *world) randomNode() *node {
	nodes := w.cl.memberNodes()
	return nodes[w.rng.IntN(len(nodes))]
}

// injectSite starts a site fault on a random site.
func (w *world) injectSite(ctx context.Context, f string) (*injection, error) {
	s := w.sites[w.rng.IntN(len(w.sites))]
	victim := "site of " + s.member
	switch f {
	case FaultSiteCut:
		s.Cut()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		how, err := s.ConfirmCut(cctx)
		if err != nil {
			s.Heal()
			return nil, fmt.Errorf("cut of %s not confirmed: %w", victim, err)
		}
		return &injection{victim: victim, hold: w.opts.SiteCut, detail: fmt.Sprintf("leaf link refused for %s, confirmed: %s", w.opts.SiteCut, how),
			heal: func(context.Context) error { s.Heal(); return nil }}, nil
	case FaultSitePowerLoss:
		how, err := s.PowerLoss(ctx)
		if err != nil {
			return nil, err
		}
		return &injection{victim: victim, detail: how, heal: func(context.Context) error { return s.proc.Start() }}, nil
	default:
		_, acceptedBefore, _, pacedBefore := s.linkStats()
		s.SetRate(w.opts.SlowLink)
		inj := &injection{victim: victim, detail: fmt.Sprintf("leaf link paced to %d bit/s each way", 8*w.opts.SlowLink),
			heal: func(context.Context) error { s.Heal(); return nil }}
		inj.after = func() (string, error) {
			_, accepted, _, paced := s.linkStats()
			if paced == pacedBefore {
				return "", fmt.Errorf("nothing crossed the slow link of %s in the hold: the fault was not felt", victim)
			}
			return fmt.Sprintf("%d B paced in the hold, %d leaf reconnects", paced-pacedBefore, accepted-acceptedBefore), nil
		}
		return inj, nil
	}
}

// injectRegion starts a region fault.
func (w *world) injectRegion(ctx context.Context, f string) (*injection, error) {
	if f == FaultRegionLoss {
		r := w.nextLoss()
		names, err := w.cl.KillRegion(ctx, r)
		if err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("%s SIGKILLed at once; its stream set waits on its disks, its members' agents fail over to the others", strings.Join(names, ", "))
		if r == w.cl.lay.registry {
			detail += "; the registry's region: admissions wait"
		}
		return &injection{victim: r, detail: detail,
			heal: func(context.Context) error {
				for _, n := range w.cl.regionNodes(r) {
					if err := n.proc.Start(); err != nil {
						return err
					}
				}
				return nil
			}}, nil
	}
	r := w.cl.lay.sets[w.rng.IntN(len(w.cl.lay.sets))]
	before := w.cl.CutGateways(r)
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	how, err := w.cl.ConfirmGatewaysCut(cctx, r, before)
	if err != nil {
		w.cl.HealNetwork()
		return nil, fmt.Errorf("gateway cut of %s not confirmed by the nodes: %w", r, err)
	}
	return &injection{victim: r, detail: "every gateway to and from " + r + " refused, confirmed: " + how,
		heal: func(context.Context) error { w.cl.HealNetwork(); return nil }}, nil
}

// nextLoss is the region the next region-loss takes: the first drawn from
// the seed, then each set in turn, so that a run that injects it twice
// loses both east and west.
func (w *world) nextLoss() string {
	sets := w.cl.lay.sets
	if w.losses == 0 {
		w.lossFrom = w.rng.IntN(len(sets))
	}
	r := sets[(w.lossFrom+w.losses)%len(sets)]
	w.losses++
	return r
}
