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
	return cmd
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
		fmt.Fprintf(w, "\np99 tocsin / raw: %.2f (goal: at most 2)\n", float64(r.Tocsin.Latency.P99)/float64(r.Raw.Latency.P99))
	}
	if c := r.CatchUp; c != nil {
		fmt.Fprintf(w, "catch-up of %d missed alerts: agent %.0f/s (%s), raw durable consumer %.0f/s (%s): %.2f of raw (goal: at least 0.5)\n",
			c.Alerts, c.AgentPerSec, c.AgentTime.Round(time.Millisecond), c.RawPerSec, c.RawTime.Round(time.Millisecond), c.AgentPerSec/c.RawPerSec)
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
