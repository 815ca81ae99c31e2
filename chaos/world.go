package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/chaos/lazyfs"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/subjects"
)

// fuzzerID is the member that sends the bad input.
const fuzzerID = "fuzzer"

// world is everything a run starts: the cluster, the agents, the
// publishers' connections and the bad-input sender.
type world struct {
	opts   Options
	log    *zap.Logger
	rng    *rand.Rand
	run    string
	cl     *cluster
	agents []*agentProc
	sites  []*siteProc
	pubs   []*publisher
	fuzz   *client.Client
	ledger *ledger
	creds  string
	// warmUp says why the agents did not all write their warm-up alert.
	warmUp string
	// notes are observations for the report.
	notes []string
	// losses counts the region losses injected, from the set lossFrom
	// (nextLoss).
	losses, lossFrom int
}

// progress writes one line of the run's progress.
func (w *world) progress(format string, v ...any) {
	fmt.Fprintf(w.opts.Progress, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, v...))
}

// setup starts the cluster, admits the members, starts the agents and
// connects the publishers and the bad-input sender.
func setup(ctx context.Context, opts Options, log *zap.Logger) (_ *world, err error) {
	w := &world{opts: opts, log: log, rng: rand.New(rand.NewPCG(uint64(opts.Seed), 0x7063)), ledger: newLedger(),
		run: fmt.Sprintf("r%d", time.Now().Unix()%1e6), creds: filepath.Join(opts.Dir, "creds")}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	lazy := slices.Contains(opts.Faults, FaultPowerLoss)
	if lazy {
		if err := lazyfs.Available(filepath.Join(opts.Dir, "lazyfs-probe")); err != nil {
			lazy = false
			w.opts.Faults = slices.DeleteFunc(slices.Clone(opts.Faults), func(f string) bool { return f == FaultPowerLoss })
			w.notes = append(w.notes, "power-loss not injected: "+err.Error())
		}
	}
	lay := oneCluster(w.opts.Sites > 0)
	if opts.Regions {
		lay = regionsLayout(w.opts.Sites > 0)
	}
	w.progress("tocsin init, %d node configs (regions %v, sync_interval %s, stores on lazy file systems: %v), route and gateway proxies", len(lay.nodes), opts.Regions, opts.Sync, lazy)
	if w.cl, err = newClusterOf(ctx, lay, opts.Binary, opts.Dir, opts.Sync, lazy, log); err != nil {
		return nil, err
	}
	w.progress("starting %d node processes", len(lay.nodes))
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := w.cl.Start(sctx); err != nil {
		return nil, fmt.Errorf("the cluster never became healthy: %w", err)
	}
	mirrored := time.Now()
	if err := w.cl.WaitRegistry(sctx); err != nil {
		return nil, fmt.Errorf("the member registry's replicas or a region's mirror of it never caught up: %w", err)
	}
	if opts.Regions {
		w.progress("every region's registry mirror caught up with MEMBERS %.1fs after the nodes said ready", time.Since(mirrored).Seconds())
	}
	specs := agentCast(opts.Agents)
	var pubIDs []string
	for i := range opts.Publishers {
		pubIDs = append(pubIDs, fmt.Sprintf("pub-%d", i+1))
	}
	seed := filepath.Join(opts.Dir, "members.yaml")
	if err := writeSeed(seed, pubIDs, specs, fuzzerID, lay.homeOf); err != nil {
		return nil, err
	}
	w.progress("tocsin members add: %d publishers, %d agents, %s%s", len(pubIDs), len(specs), fuzzerID, w.homes(append(append(slices.Clone(pubIDs), agentIDs(specs)...), fuzzerID)))
	if how, err := w.cl.admit(sctx, seed, w.creds); err != nil {
		return nil, err
	} else if how != "" {
		w.progress("%s", how)
		w.notes = append(w.notes, how)
	}
	if err := w.cl.WaitRegistry(sctx); err != nil {
		return nil, fmt.Errorf("the members admitted never reached every replica of the registry and every region's mirror of it: %w", err)
	}
	for _, d := range []string{"sinks", "state", "publishers"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := w.startSites(sctx, specs, lazy && slices.Contains(w.opts.Faults, FaultSitePowerLoss)); err != nil {
		return nil, err
	}
	for _, s := range specs {
		urls, ca := w.cl.memberURLs(s.Member), w.cl.CA()
		if st := w.siteOf(s.Member); st != nil {
			urls, ca = st.URL(), ""
		}
		a := newAgentProc(opts.Binary, opts.Dir, urls, ca, credsOf(w.creds, s.Member), s)
		if err := a.proc.Start(); err != nil {
			return nil, err
		}
		w.agents = append(w.agents, a)
	}
	for _, id := range pubIDs {
		if err := w.addPublisher(sctx, id, nil); err != nil {
			return nil, err
		}
	}
	for _, st := range w.sites {
		if err := w.addPublisher(sctx, st.member, st); err != nil {
			return nil, err
		}
	}
	if w.fuzz, err = memberConn(sctx, w.cl.memberURLs(fuzzerID), credsOf(w.creds, fuzzerID), w.cl.CA()); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.agentsLive(wctx); err != nil {
		// The run goes on: its check says what the agents missed.
		w.warmUp = err.Error()
		w.progress("warm-up: %v", err)
	}
	return w, nil
}

// addPublisher connects member as a publisher: to the hub, or to its
// site st (then at half the rate, its PubAck the site's).
func (w *world) addPublisher(ctx context.Context, member string, st *siteProc) error {
	urls, ca, via, rate := w.cl.memberURLs(member), w.cl.CA(), "", w.opts.Rate
	if st != nil {
		urls, ca, via, rate = st.URL(), "", viaSite, rate/2
	}
	c, err := memberConn(ctx, urls, credsOf(w.creds, member), ca)
	if err != nil {
		return err
	}
	if err := w.ledger.open(member, filepath.Join(w.opts.Dir, "publishers", member+".jsonl")); err != nil {
		c.Close()
		return err
	}
	w.pubs = append(w.pubs, &publisher{c: c, run: w.run, ingest: w.cl.lay.streamOf(subjects.StreamIngest, member), agents: w.specs(), ledger: w.ledger, log: w.log, progress: w.progress, via: via, rate: rate,
		rng: rand.New(rand.NewPCG(uint64(w.opts.Seed), uint64(len(w.pubs)+1)))})
	return nil
}

// homes says where each of members is homed (", homes: pub-1 east, ..."),
// "" in one cluster.
func (w *world) homes(members []string) string {
	if !w.cl.lay.regions() {
		return ""
	}
	var out []string
	for _, m := range members {
		out = append(out, m+" "+w.cl.lay.homeOf(m))
	}
	return "; home regions: " + strings.Join(out, ", ")
}

// agentIDs are the members of specs.
func agentIDs(specs []AgentSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Member)
	}
	return out
}

// specs are the agents' specs.
func (w *world) specs() []AgentSpec {
	var out []AgentSpec
	for _, a := range w.agents {
		out = append(out, a.spec)
	}
	return out
}

// agentsLive waits until every agent has written a first alert: one from
// a warm-up publisher per agent, so the run starts with every path proven.
func (w *world) agentsLive(ctx context.Context) error {
	w.progress("warm-up: one alert to each agent's inbox")
	p := w.pubs[0]
	for _, a := range w.agents {
		spec := Spec{TLP: "red", Lane: "urgent", Recipients: []string{a.spec.Member}}
		if err := p.publishSpec(ctx, spec, time.Minute); err != nil {
			return err
		}
	}
	return poll(ctx, 250*time.Millisecond, func() error {
		var missing []string
		for _, a := range w.agents {
			if err := a.read.Poll(); err != nil {
				return err
			}
			for _, pa := range w.ledger.ackedBy(time.Now()) {
				if a.spec.Receives(pa.Spec) && !a.read.Has(pa.ID) {
					missing = append(missing, a.spec.Member)
					break
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("agents without their warm-up alert: %s", strings.Join(missing, ", "))
		}
		return nil
	})
}

// close stops everything the world started.
func (w *world) close() {
	for _, p := range w.pubs {
		p.c.Close()
	}
	if w.fuzz != nil {
		w.fuzz.Close()
	}
	for _, a := range w.agents {
		a.proc.Cleanup()
	}
	for _, s := range w.sites {
		s.close()
	}
	if w.cl != nil {
		w.cl.Close()
	}
	_ = w.ledger.Close()
}

// stopAgents stops every agent with SIGTERM.
func (w *world) stopAgents(ctx context.Context) error {
	var errs []error
	for _, a := range w.agents {
		if a.proc.Running() {
			errs = append(errs, a.proc.Stop(ctx, 20*time.Second))
		}
	}
	return errors.Join(errs...)
}

// crashes lists the exits of nodes and agents the harness did not cause.
func (w *world) crashes() []string {
	out := w.cl.Crashes()
	for _, a := range w.agents {
		out = append(out, a.proc.Crashes()...)
	}
	for _, s := range w.sites {
		out = append(out, s.proc.Crashes()...)
	}
	return out
}
