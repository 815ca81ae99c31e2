package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/bench"
)

func init() { register(newBenchCmd) }

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Tocsin and raw JetStream on an in-process cluster (see docs/PERFORMANCE.md)",
	}
	cmd.AddCommand(newBenchRawCmd(g), newBenchRouteCmd(g), newBenchFanoutCmd(g), newBenchPageCmd(g), newBenchReachCmd(g), newBenchScaleCmd(g))
	return cmd
}

func newBenchRouteCmd(g *globals) *cobra.Command {
	var (
		alerts, rounds int
		sync           string
	)
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Routed alerts per second through Tocsin's router against a raw JetStream pipeline, same cluster and run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			interval, err := parseSync(sync)
			if err != nil {
				return usageErr("--sync %v", err)
			}
			dir, err := os.MkdirTemp("", "tocsin-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
			defer cancel()
			start := time.Now()
			r, err := bench.Route(ctx, bench.RouteOptions{Alerts: alerts, Rounds: rounds, SyncInterval: interval, DataDir: dir,
				Progress: func(line string) { fmt.Fprintln(g.stderr, line) }}, zap.NewNop())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "done in %s\n", time.Since(start).Round(time.Millisecond))
			if g.json {
				return g.printJSON(r)
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "sync %s, %d alerts of %d B, one indicator, one sector, R3\n\n", r.Sync, r.Alerts, r.AlertBytes)
			fmt.Fprintln(w, "pipeline\talerts/s\treplicated writes/alert\tTocsin ratio\tCPU µs/alert\tcores busy")
			fmt.Fprintf(w, "raw async publish\t%.0f\t1\t%.2f\t-\t-\n", r.RawPublishRate, r.RatioPublish)
			fmt.Fprintf(w, "raw pipeline (the router's writes, no logic)\t%.0f\t%.1f\t%.2f\t%s\t%s\n", r.RawPipelineRate, r.RawWritesPerAlert, r.RatioPipeline,
				orDash(measured(r.RawCPUPerAlert, "%.0f")), orDash(measured(r.RawCoresBusy, "%.2f")))
			fmt.Fprintf(w, "raw pipeline (the five writes of before)\t%.0f\t%.1f\t%.2f\t%s\t%s\n", r.RawFiveRate, r.RawFiveWritesPerAlert, r.RatioFive,
				orDash(measured(r.RawFiveCPUPerAlert, "%.0f")), orDash(measured(r.RawFiveCoresBusy, "%.2f")))
			fmt.Fprintf(w, "tocsin router\t%.0f\t%.1f\t1.00\t%s\t%s\n", r.TocsinRate, r.WritesPerAlert,
				orDash(measured(r.TocsinCPUPerAlert, "%.0f")), orDash(measured(r.TocsinCoresBusy, "%.2f")))
			if err := w.Flush(); err != nil {
				return err
			}
			per := make([]string, len(r.RoundRatios))
			for i, x := range r.RoundRatios {
				per[i] = fmt.Sprintf("%.2f", x)
			}
			_, err = fmt.Fprintf(g.stdout, "\nA write is one replicated proposal: an atomic batch of several records counts as one (the router's record of an alert: %.1f stream messages, %.1f writes).\n"+
				"Tocsin / raw pipeline (same writes) in each of the %d rounds (turning which goes first): %s\n"+
				"the router's writes against the five of before, raw: %.2fx; the router against the raw five-write pipeline: %.2f\n"+
				"records written per alert (the raw pipelines write the same sizes): dedupe claim %d B, indicator index %d B, outcome %d B\n",
				r.MessagesPerAlert, r.WritesPerAlert, r.Rounds, strings.Join(per, ", "), r.WriteGain, r.RatioFive,
				r.RecordBytes["dedupe claim"], r.RecordBytes["indicator index"], r.RecordBytes["outcome"])
			return err
		},
	}
	cmd.Flags().IntVar(&alerts, "alerts", 20000, "alerts per pipeline (long rounds: a round of a few hundred milliseconds measures its ramp and its tail more than the rate)")
	cmd.Flags().IntVar(&rounds, "rounds", 4, "turns each pipeline takes, turning which goes first")
	cmd.Flags().StringVar(&sync, "sync", "always", `JetStream fsync: "always" or an interval`)
	return cmd
}

// measured formats x, or gives "" when it was not measured (zero).
func measured(x float64, format string) string {
	if x == 0 {
		return ""
	}
	return fmt.Sprintf(format, x)
}

func newBenchRawCmd(g *globals) *cobra.Command {
	var (
		msgs  int
		sizes string
		syncs string
	)
	cmd := &cobra.Command{
		Use:   "raw",
		Short: "Raw JetStream async publish and consume on a 3-node R3 cluster: the baseline of every ratio",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := bench.RawOptions{Messages: msgs}
			for _, s := range strings.Split(sizes, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 8 {
					return usageErr("--sizes %q: use byte counts of at least 8, such as 512,4096", sizes)
				}
				o.Sizes = append(o.Sizes, n)
			}
			for _, s := range strings.Split(syncs, ",") {
				d, err := parseSync(strings.TrimSpace(s))
				if err != nil {
					return usageErr("--sync %v", err)
				}
				o.SyncIntervals = append(o.SyncIntervals, d)
			}
			dir, err := os.MkdirTemp("", "tocsin-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			o.DataDir = dir
			o.Progress = func(line string) { fmt.Fprintln(g.stderr, line) }
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
			defer cancel()
			start := time.Now()
			res, err := bench.Raw(ctx, o, zap.NewNop())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "done in %s\n", time.Since(start).Round(time.Millisecond))
			if g.json {
				return g.printJSON(res)
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "sync\tsize\tmsgs\tpublish msg/s\tack p50\tack p99\tconsume msg/s\tdelivery p50\tdelivery p99\t")
			for _, r := range res {
				fmt.Fprintf(w, "%s\t%d\t%d\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t\n", r.Sync, r.Size, r.Messages,
					r.PublishRate, ms(r.AckLatency.P50), ms(r.AckLatency.P99), r.ConsumeRate, ms(r.Delivery.P50), ms(r.Delivery.P99))
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&msgs, "msgs", 20000, "messages per case")
	f.StringVar(&sizes, "sizes", "512,4096", "payload sizes in bytes, comma-separated")
	f.StringVar(&syncs, "sync", "always,2m", `sync intervals to compare: "always" and/or durations`)
	return cmd
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
