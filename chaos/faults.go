package chaos

import (
	"context"
	"fmt"
	"time"
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
	// FaultLeaderKill SIGKILLs the node that leads the INGEST stream.
	FaultLeaderKill = "leader-kill"
	// FaultAgentCrash SIGKILLs one member agent and restarts it.
	FaultAgentCrash = "agent-crash"
	// FaultPowerLoss kills every node at once and takes from each store
	// what it had not fsynced (the stores are on lazy file systems; skipped
	// where FUSE is unavailable), then restarts them.
	FaultPowerLoss = "power-loss"
)

// FaultNames lists every fault.
func FaultNames() []string { return append(DefaultFaults(), FaultPowerLoss) }

// DefaultFaults are the faults a run injects unless told otherwise: all
// but the power loss, which needs root and FUSE and is asked for by name.
func DefaultFaults() []string {
	return []string{FaultKill, FaultPause, FaultRollingRestart, FaultPartition, FaultLatency, FaultLeaderKill, FaultAgentCrash}
}

// injection is one fault in force: heal undoes it.
type injection struct {
	victim string
	detail string
	heal   func(ctx context.Context) error
}

// inject starts fault f on the world and returns how to heal it.
func (w *world) inject(ctx context.Context, f string) (*injection, error) {
	switch f {
	case FaultKill, FaultLeaderKill:
		n := w.cl.nodes[w.rng.IntN(nodeCount)]
		detail := "random node"
		if f == FaultLeaderKill {
			leader, err := w.cl.ingestLeader(ctx)
			if err != nil {
				return nil, err
			}
			n, detail = leader, "INGEST leader"
		}
		if err := n.proc.Kill(ctx); err != nil {
			return nil, err
		}
		return &injection{victim: n.name, detail: detail + " SIGKILLed", heal: func(context.Context) error { return n.proc.Start() }}, nil
	case FaultPause:
		n := w.cl.nodes[w.rng.IntN(nodeCount)]
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
		n := w.cl.nodes[w.rng.IntN(nodeCount)]
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
	}
	return nil, fmt.Errorf("unknown fault %q", f)
}
