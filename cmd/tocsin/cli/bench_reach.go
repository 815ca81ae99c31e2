package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/bench/reachbench"
	"github.com/tocsin-project/tocsin/internal/days"
)

func newBenchReachCmd(g *globals) *cobra.Command {
	o := reachbench.Options{}
	cmd := &cobra.Command{
		Use:   "reach",
		Short: "A liaison's advisory to N members: how soon the liaison's reach shows every one delivered",
		Long: `Starts three tocsin node processes from tocsin init (operator mode, every member
in its own account, TLS, as production), admits --members members of one sector
and a liaison (tocsin members add --lazy-consumers), publishes the liaison's
advisory to the sector, then every member's delivered receipt, each signed by
that member's key, on the ingest subject the member's agent publishes on (one
publisher connection, not N agents: bench fanout runs agents). The routers
batch them into REACH (one compare-and-set per set per window). Prints, from
the advisory's publish, when the liaison's reach (what tocsin reach reads)
showed 99% and every member delivered, the REACH writes against one per member,
and the curve of delivered receipts beside the routers' receipt consumer.
Exits 6 when not every member showed delivered within --wait.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := runBench(g, cmd, func(ctx context.Context, dir string, progress func(string)) (*reachbench.Result, error) {
				o.DataDir, o.Progress = dir, progress
				return reachbench.Run(ctx, o, zap.NewNop())
			}, func(r *reachbench.Result) error { return printBenchReach(g, r) })
			if err != nil {
				return err
			}
			if r.Delivered < r.Members {
				return &exitError{exitBenchShort, fmt.Errorf("the liaison's reach showed %d of %d delivered after %s", r.Delivered, r.Members, o.Wait)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Members, "members", 1000, "members of the sector the advisory reaches, each in its own account")
	f.IntVar(&o.Outstanding, "outstanding", 2000, "receipts' PubAcks awaited at once")
	f.Var(days.NewValue(&o.Wait, 5*time.Minute), "wait", "how long after the publish to wait for every member delivered")
	f.StringVar(&o.Binary, "binary", "", "the tocsin binary the node processes run (default: this one)")
	_ = f.MarkHidden("binary")
	return cmd
}

func printBenchReach(g *globals, r *reachbench.Result) error {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	s := func(d time.Duration) string {
		if d <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	fmt.Fprintf(w, "3 node processes (operator mode) healthy in %s; %d members and the liaison admitted (--lazy-consumers) in %s; load %s, then %s\n\n",
		r.NodeStart.Round(time.Millisecond), r.Members, r.Admission.Round(time.Millisecond), r.LoadStart, r.LoadEnd)
	fmt.Fprintln(w, "members\tdelivered\trouted\treceipts published\t99% delivered\tall delivered\treceipts/s\tREACH writes\tsets\told shape")
	fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%.0f\t%d\t%d\t%d\n", r.Members, r.Delivered, s(r.Routed), s(r.ReceiptsPublished), s(r.To99), s(r.ToAll),
		r.ReceiptsPerSec, r.ReachWrites, r.ReachSets, r.OldShapeWrites)
	verdict := "not met"
	if r.MetGoal {
		verdict = "met"
	}
	fmt.Fprintf(w, "\nall delivered in the liaison's reach %s after the publish (goal: within %.0fs, %s); the whole tocsin reach report took %s and counted %d delivered\n",
		s(r.ToAll), r.GoalS, verdict, r.Report.Round(time.Millisecond), r.ReportDelivered)
	fmt.Fprintln(w, "\nat\tdelivered\treceipts waiting\twith a router\tREACH writes")
	step := max(1, len(r.Curve)/20)
	for i, p := range r.Curve {
		if i%step == 0 || i == len(r.Curve)-1 {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\n", s(p.At), p.Delivered, p.Pending, p.AckPending, p.ReachWrites)
		}
	}
	return w.Flush()
}
