package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/bench/fanout"
	"github.com/tocsin-project/tocsin/internal/days"
)

func newBenchPageCmd(g *globals) *cobra.Command {
	o := fanout.PageOptions{}
	cmd := &cobra.Command{
		Use:   "page",
		Short: "flash alerts to N paging agents: publish-to-page against publish-to-sink, escalation timing",
		Long: `Starts a 3-node cluster in this process and N member agents, each with a JSONL
sink and a pager whose first step is a PagerDuty endpoint of its own (an
in-process server that speaks the Events API v2 contract: 202 with the
dedup_key) and whose second step fires --escalate-after later, nobody
acknowledging. Publishes --alerts flash alerts to every sector and measures,
for every agent and alert, publish to the sink's fsync and publish to
PagerDuty's 202 in the same run, and how late each second step fired after its
deadline. Exits 6 when a page or a sink write is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := runBench(g, cmd, func(ctx context.Context, dir string, progress func(string)) (*fanout.PageResult, error) {
				o.DataDir, o.Progress = dir, progress
				return fanout.RunPage(ctx, o, zap.NewNop())
			}, func(r *fanout.PageResult) error { return printPage(g, r) })
			if err != nil {
				return err
			}
			if r.Written < r.Expected || r.Paged < r.Expected || r.Escalated < r.Expected {
				return &exitError{exitBenchShort, fmt.Errorf("%d of %d written, %d paged, %d escalated: pages were lost or late", r.Written, r.Expected, r.Paged, r.Escalated)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Agents, "agents", 100, "member agents, each with its own PagerDuty endpoint")
	f.IntVar(&o.Alerts, "alerts", 20, "flash alerts published, each to every sector")
	f.Var(days.NewValue(&o.Interval, 500*time.Millisecond), "interval", "time between two alerts")
	f.Var(days.NewValue(&o.EscalateAfter, 2*time.Second), "escalate-after", "the second step's delay (nobody acknowledges)")
	return cmd
}

func printPage(g *globals, r *fanout.PageResult) error {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%d agents, %d flash alerts\n\n", r.Agents, r.Alerts)
	fmt.Fprintln(w, "\texpected\tgot\tp50\tp99\tmax")
	fmt.Fprintf(w, "publish to sink (JSONL fsync)\t%d\t%d\t%s\t%s\t%s\n", r.Expected, r.Written, ms(r.Sink.P50), ms(r.Sink.P99), ms(r.Sink.Max))
	fmt.Fprintf(w, "publish to page (PagerDuty 202)\t%d\t%d\t%s\t%s\t%s\n", r.Expected, r.Paged, ms(r.Page.P50), ms(r.Page.P99), ms(r.Page.Max))
	fmt.Fprintf(w, "second step, after its deadline\t%d\t%d\t%s\t%s\t%s\n", r.Expected, r.Escalated, ms(r.Escalation.P50), ms(r.Escalation.P99), ms(r.Escalation.Max))
	fmt.Fprintf(w, "\npaging adds %s at p99 over the sink write (goal: at most 100ms); the latest escalation step fired %s after its deadline (goal: within 1s)\n",
		ms(r.AddedP99), ms(r.Escalation.Max))
	return w.Flush()
}
