package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/bench/fanout"
	"github.com/tocsin-project/tocsin/internal/days"
)

// exitBenchShort: a benchmark run did not deliver everything it published.
const exitBenchShort = 6

func newBenchFanoutCmd(g *globals) *cobra.Command {
	o := fanout.Options{}
	cmd := &cobra.Command{
		Use:   "fanout",
		Short: "N member agents against raw JetStream fan-out to N consumers: latency, throughput, catch-up, memory",
		Long: `Starts a 3-node cluster in this process, N member agents (each in its own
connection, sectors spread over the defaults) and N plain pull consumers, and
publishes alerts at a steady rate to every sector: publish-to-sink latency of
the agents beside publish-to-consume latency of the raw consumers, the same
alerts in the same run. Then one agent that missed --catchup alerts catches up,
beside a plain durable consumer reading the same backlog. Exits 6 when an alert
was not delivered to every agent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch o.Receipts {
			case agent.ReceiptsAll, agent.ReceiptsAdvisories, agent.ReceiptsNone:
			default:
				return usageErr("--receipts %q: use all, advisories or none", o.Receipts)
			}
			if (o.Procs > 0) != o.NodesProcs {
				return usageErr("--procs N and --nodes-procs go together: agents in processes against nodes in processes (operator mode, as production)")
			}
			r, err := runBench(g, cmd, func(ctx context.Context, dir string, progress func(string)) (*fanout.Result, error) {
				o.DataDir, o.Progress = dir, progress
				return fanout.Run(ctx, o, zap.NewNop())
			}, func(r *fanout.Result) error { return printFanout(g, r) })
			if err != nil {
				return err
			}
			if r.Tocsin.Delivered < r.Tocsin.Expected {
				return &exitError{exitBenchShort, fmt.Errorf("the agents got %d of %d deliveries: alerts were lost or late", r.Tocsin.Delivered, r.Tocsin.Expected)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Agents, "agents", 100, "member agents (and raw consumers)")
	f.Float64Var(&o.Rate, "rate", 5, "alerts published per second, each to every sector")
	f.Var(days.NewValue(&o.Duration, 20*time.Second), "duration", "how long alerts are published")
	f.IntVar(&o.CatchUp, "catchup", 100000, "alerts the catch-up agent missed (-1: skip the catch-up)")
	f.StringVar(&o.Receipts, "receipts", agent.ReceiptsAll, "the agents' receipts: all, advisories or none")
	f.IntVar(&o.Procs, "procs", 0, "run the agents (and the raw consumers) in this many OS processes, the catch-up agent in one more; needs --nodes-procs (0: all in this process)")
	f.BoolVar(&o.NodesProcs, "nodes-procs", false, "run the three nodes as tocsin node processes in operator mode with member accounts, as production; needs --procs")
	f.StringVar(&o.Binary, "binary", "", "the tocsin binary the processes run (default: this one)")
	f.StringVar(&o.AgentBinary, "agent-binary", "", "with --procs: the agent-only binary (tocsin-agent) that runs the one agent measured alone, idle and catching up (default: a tocsin process)")
	_ = f.MarkHidden("binary")
	cmd.AddCommand(newBenchFanoutChildCmd(g))
	return cmd
}

// newBenchFanoutChildCmd is `tocsin bench fanout child`, the hidden agent
// process of bench fanout --procs: a fanout.ChildSpec and then commands on stdin, JSON reports on
// stdout.
func newBenchFanoutChildCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "child",
		Short:  "One agent process of tocsin bench fanout --procs (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fanout.RunChild(cmd.Context(), cmd.InOrStdin(), g.stdout)
		},
	}
}

func printFanout(g *globals, r *fanout.Result) error {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%d agents, %.1f alerts/s for %s (agents started in %s)\n\n", r.Agents, r.Rate, r.Duration, r.Setup.Round(time.Millisecond))
	fmt.Fprintln(w, "\tpublished\texpected\tdelivered\tp50\tp99\tmax\tdeliveries/s\tio pressure")
	for _, row := range []struct {
		name string
		f    fanout.Figures
	}{{"tocsin agents (publish to sink)", r.Tocsin}, {"raw consumers (publish to consume)", r.Raw}} {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%.0f\t%s\n", row.name, row.f.Published, row.f.Expected, row.f.Delivered,
			ms(row.f.Latency.P50), ms(row.f.Latency.P99), ms(row.f.Latency.Max), row.f.PerSec, percent(row.f.IOPressure))
	}
	if sl := r.Tocsin.Slowest; sl.Delivery > 0 {
		fmt.Fprintf(w, "\nslowest tocsin delivery: %s; %d deliveries written on a redelivery\n", sl, r.Tocsin.Redelivered)
	}
	if r.Raw.Latency.P99 > 0 {
		fmt.Fprintf(w, "\np99 tocsin / raw: %.2f (goal: at most 2)\n", r.P99RatioVsRaw)
	}
	if c := r.CatchUp; c != nil {
		fmt.Fprintf(w, "catch-up of %d missed alerts: agent %.0f/s (%s), raw durable consumer %.0f/s (%s): %.2f of raw (goal: at least 0.5)\n",
			c.Alerts, c.AgentPerSec, c.AgentTime.Round(time.Millisecond), c.RawPerSec, c.RawTime.Round(time.Millisecond), c.AgentPerSec/c.RawPerSec)
	}
	if r.Procs != nil {
		printProcs(w, r)
		return w.Flush()
	}
	m := r.Memory
	fmt.Fprintf(w, "broker heap per agent: %d KiB (its R1 consumers %d KiB, its connection and pulls %d KiB); a plain connection with one R1 consumer: %d KiB\n",
		(m.ConsumersPerAgent+m.ConnectedPerAgent)/1024, m.ConsumersPerAgent/1024, m.ConnectedPerAgent/1024, m.RawConnectedPerConsumer/1024)
	fmt.Fprintf(w, "an agent's own heap: %d KiB\n", m.AgentPerAgent/1024)
	return w.Flush()
}

// percent spells a share as a percentage, or "n/a" when unknown.
func percent(share float64) string {
	if share < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*share)
}

// printProcs prints the memory of a --procs run, process by process.
func printProcs(w *tabwriter.Writer, r *fanout.Result) {
	p := r.Procs
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "\n3 node processes healthy in %s; %d members admitted (--lazy-consumers) in %s; %d agents in %d processes\n",
		p.NodeStart.Round(time.Millisecond), p.Members, p.Admission.Round(time.Millisecond), r.Agents, p.Procs)
	fmt.Fprintln(w, "process\tagents\tRSS admitted\tRSS live (idle)\tpeak RSS")
	for _, n := range p.Nodes {
		fmt.Fprintf(w, "node %s\t\t%s\t%s\t%s\n", n.Name, mib(n.Admitted), mib(n.Live), mib(n.Peak))
	}
	for i, a := range p.AgentProcs {
		fmt.Fprintf(w, "agents-%d\t%d\t\t%s\t%s\n", i, a.Agents, mib(a.Idle), mib(a.Peak))
	}
	fmt.Fprintf(w, "agent process RSS per agent: %d KiB; the nodes' RSS growth per agent (broker): %d KiB (goal: a node with 10,000 members at most 2 GiB)\n",
		p.AgentRSSPerAgent/1024, p.BrokerRSSPerAgent/1024)
	fmt.Fprintf(w, "one agent in its own process (%s): %s idle (goal: at most 20 MiB)", p.OneAgentBinary, mib(p.OneAgentIdle))
	if p.OneAgentIdleFile > 0 {
		fmt.Fprintf(w, " of which %s the binary's pages", mib(p.OneAgentIdleFile))
	}
	if p.OneAgentCatchUp > 0 {
		fmt.Fprintf(w, ", %s at its peak catching up (goal: at most 60 MiB)", mib(p.OneAgentCatchUp))
	}
	fmt.Fprintln(w)
}
