package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Phase is one stretch of the run: the baseline (no fault) or one
// injection of a fault, from its start to the start of the next phase.
// An alert belongs to the phase in which it was first published.
type Phase struct {
	// Fault is the fault's name, "none" for the baseline.
	Fault string `json:"fault"`
	// Victim is the node, agent or routes the fault hit.
	Victim string `json:"victim,omitempty"`
	// Detail says what was done and how a partition was confirmed.
	Detail string `json:"detail,omitempty"`
	// Start, Healed and End bound the phase.
	Start  time.Time `json:"start"`
	Healed time.Time `json:"healed"`
	End    time.Time `json:"end"`
	// RecoverySeconds is the time from the heal until every node said
	// ready (not degraded) and every alert acknowledged before the heal
	// was in every sink that should hold it; -1 when that took longer
	// than Options.Recovery.
	RecoverySeconds float64 `json:"recovery_seconds"`
	// Err is why the fault could not be injected or healed.
	Err string `json:"error,omitempty"`
}

// giveUp is how long a publisher retries one alert before it gives up on
// it (it is then not promised).
const giveUp = time.Minute

// Run runs the whole experiment: setup, workload with bad input, the
// nemesis for opts.Duration, heal, drain, and the checks.
func Run(ctx context.Context, opts Options, log *zap.Logger) (*Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	w, err := setup(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	defer w.close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, len(w.pubs)+1)
	for _, p := range w.pubs {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- p.loop(ctx, stop, giveUp) }()
	}
	var bad *campaign
	if !opts.NoBadInput {
		bad = newCampaign(w, filepath.Join(opts.Dir, "bad-input.jsonl"))
		wg.Add(1)
		go func() { defer wg.Done(); errs <- bad.run(ctx, stop) }()
	}
	w.progress("workload: %d publishers at %.1f alerts/s each, bad input %v", len(w.pubs), opts.Rate, bad != nil)

	phases := []*Phase{w.baseline(ctx)}
	faultsFrom := time.Now()
	for cycle := 0; ; cycle++ {
		if cycle > 0 && time.Since(faultsFrom) >= opts.Duration {
			break
		}
		for _, f := range w.shuffled(w.opts.Faults) {
			if ctx.Err() != nil {
				break
			}
			phases = append(phases, w.runFault(ctx, f))
		}
		if ctx.Err() != nil {
			break
		}
	}
	stopping := time.Now()
	close(stop)
	wg.Wait()
	w.progress("workload stopped in %.1fs", time.Since(stopping).Seconds())
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	phases[len(phases)-1].End = time.Now()

	w.progress("healing everything and draining")
	if err := w.healAll(ctx); err != nil {
		return nil, err
	}
	drainFrom := time.Now()
	dctx, cancel := context.WithTimeout(ctx, opts.Drain)
	drainErr := w.waitCaughtUp(dctx, drainFrom)
	cancel()
	drained := time.Since(drainFrom)
	if err := w.stopAgents(ctx); err != nil {
		w.progress("stopping agents: %v", err)
	}
	if err := w.ledger.Close(); err != nil {
		return nil, err
	}
	w.progress("checking")
	r, err := w.check(ctx, phases, bad)
	if err != nil {
		return nil, err
	}
	r.Started, r.Finished = started, time.Now()
	r.DrainSeconds = drained.Seconds()
	if drainErr != nil {
		r.DrainSeconds = -1
		r.Notes = append(r.Notes, fmt.Sprintf("not caught up %s after the final heal: %v", opts.Drain, drainErr))
	}
	return r, nil
}

// baseline is a phase without a fault: the steady state to compare with.
func (w *world) baseline(ctx context.Context) *Phase {
	ph := &Phase{Fault: "none", Start: time.Now()}
	sleep(ctx, w.opts.Hold)
	ph.Healed = time.Now()
	w.recover(ctx, ph)
	return ph
}

// runFault injects f, holds it, heals it and waits for recovery. What an
// earlier fault left behind (a node that exited on its own) is healed
// first, so that each fault meets a whole cluster.
func (w *world) runFault(ctx context.Context, f string) *Phase {
	ph := &Phase{Fault: f, Start: time.Now()}
	if err := w.healAll(ctx); err != nil {
		ph.Err = "heal before: " + err.Error()
	}
	inj, err := w.inject(ctx, f)
	if err != nil {
		ph.Err = err.Error()
		w.progress("%-16s could not be injected: %v", f, err)
		ph.Healed = time.Now()
		w.recover(ctx, ph)
		return ph
	}
	ph.Victim, ph.Detail = inj.victim, inj.detail
	w.progress("%-16s %s: %s", f, inj.victim, inj.detail)
	hold := w.opts.Hold
	if inj.hold > 0 {
		hold = inj.hold
	}
	sleep(ctx, hold)
	if err := inj.heal(ctx); err != nil {
		ph.Err = "heal: " + err.Error()
		w.progress("%-16s heal failed: %v", f, err)
	}
	if inj.after != nil {
		if how, err := inj.after(); err != nil {
			ph.Err = err.Error()
			w.progress("%-16s %v", f, err)
		} else {
			ph.Detail += "; " + how
			w.progress("%-16s %s", f, how)
		}
	}
	ph.Healed = time.Now()
	w.recover(ctx, ph)
	return ph
}

// recover waits until the cluster has caught up with what was
// acknowledged before ph's heal, and settles briefly.
func (w *world) recover(ctx context.Context, ph *Phase) {
	rctx, cancel := context.WithTimeout(ctx, w.opts.Recovery)
	err := w.waitCaughtUp(rctx, ph.Healed)
	cancel()
	if err != nil {
		ph.RecoverySeconds = -1
		w.progress("%-16s not recovered within %s: %v", ph.Fault, w.opts.Recovery, err)
	} else {
		ph.RecoverySeconds = time.Since(ph.Healed).Seconds()
		w.progress("%-16s recovered in %.1fs", ph.Fault, ph.RecoverySeconds)
	}
	sleep(ctx, 2*time.Second)
	ph.End = time.Now()
}

// waitCaughtUp waits until every node says ready (not degraded), every
// agent runs, and every alert acknowledged at or before t is in every
// sink that should hold it. A process that exited on its own meanwhile
// (a crash, already recorded) is started again, so that the run goes on.
func (w *world) waitCaughtUp(ctx context.Context, t time.Time) error {
	return poll(ctx, 500*time.Millisecond, func() error {
		if err := w.healAll(ctx); err != nil {
			return err
		}
		for _, n := range w.cl.nodes {
			if ok, why := w.cl.ready(ctx, n); !ok {
				return fmt.Errorf("%s: %s", n.name, why)
			}
		}
		acked := w.ledger.ackedBy(t)
		missing, example := 0, ""
		for _, a := range w.agents {
			if err := a.read.Poll(); err != nil {
				return err
			}
			for _, p := range acked {
				if a.spec.Receives(p.Spec) && !a.read.Has(p.ID) {
					missing++
					example = fmt.Sprintf("%s #%d (%s) not yet at %s", p.Publisher, p.N, p.ID, a.spec.Member)
				}
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d deliveries missing, e.g. %s", missing, example)
		}
		return nil
	})
}

// healAll undoes anything a failed heal left behind: every proxy through,
// no latency or rate, every node, site and agent running.
func (w *world) healAll(ctx context.Context) error {
	w.cl.HealNetwork()
	w.cl.SetLatency(0)
	for _, n := range w.cl.nodes {
		if n.proc.Running() {
			_ = n.proc.Resume()
		} else if err := n.proc.Start(); err != nil {
			return err
		}
	}
	for _, s := range w.sites {
		s.Heal()
		if !s.proc.Running() {
			if err := s.proc.Start(); err != nil {
				return err
			}
		}
	}
	for _, a := range w.agents {
		if !a.proc.Running() {
			if err := a.proc.Start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// shuffled is faults in a random order, except that a power loss, which
// takes the most from the cluster, comes last.
func (w *world) shuffled(faults []string) []string {
	out := slices.DeleteFunc(slices.Clone(faults), func(f string) bool { return f == FaultPowerLoss })
	w.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if slices.Contains(faults, FaultPowerLoss) {
		out = append(out, FaultPowerLoss)
	}
	return out
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
