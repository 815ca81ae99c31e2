package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/bench/scale"
	"github.com/tocsin-project/tocsin/internal/days"
)

func newBenchScaleCmd(g *globals) *cobra.Command {
	var (
		sizes, plotPath, binary, keep string
		timeout                       time.Duration
		o                             scale.Options
	)
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "What grows with members, at each size on a cluster of its own: consumers, meta layer, registry reads, reach, failover, start-up, web pages",
		Long: `For each --members size: tocsin init and three tocsin node processes
(operator mode with member accounts, TLS, HTTPS on the web face, as
production), the members admitted with tocsin members add --file
--lazy-consumers and every member's consumers created (as each member's
agent has them created when it first connects), then: the consumers and
raft groups; the meta raft group's entries meanwhile and per minute idle, the
nodes' idle CPU; one directory fetch and one agent start; an advisory to all
with every member's receipt, until the liaison's reach shows all delivered,
and the REACH bucket; the console's and TAXII's first pages; SIGKILL of the
meta leader until writes and the meta layer work again, and that node's
start-up on its data. --plot draws the curves as an SVG.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range strings.Split(sizes, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 1 {
					return usageErr("--members %q: give member counts separated by commas, such as 1000,3000,10000", sizes)
				}
				o.Sizes = append(o.Sizes, n)
			}
			o.Binary = binary
			if o.Binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				o.Binary = exe
			}
			dir := keep
			if dir == "" {
				tmp, err := os.MkdirTemp("", "tocsin-bench-scale-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			} else if err := os.MkdirAll(dir, 0o700); err != nil {
				return usageErr("--keep %s: %v", dir, err)
			}
			o.DataDir = dir
			o.Progress = func(line string) { fmt.Fprintf(g.stderr, "%s %s\n", time.Now().Format(time.TimeOnly), line) }
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			start := time.Now()
			r, err := scale.Run(ctx, o, zap.NewNop())
			if err != nil {
				if r != nil && len(r.Points) > 0 {
					_ = printScale(g, r)
				}
				return err
			}
			fmt.Fprintf(g.stderr, "done in %s\n", time.Since(start).Round(time.Millisecond))
			if plotPath != "" {
				if err := writePlot(r, plotPath); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "curves drawn in %s\n", plotPath)
			}
			if g.json {
				return g.printJSON(r)
			}
			return printScale(g, r)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sizes, "members", "1000,3000,10000", "member counts, each measured on a cluster of its own, comma-separated")
	f.StringVar(&plotPath, "plot", "", "draw the curves into this file: SVG, or PNG when it ends in .png (docs/img/scale.svg)")
	f.Var(days.NewValue(&o.Idle, 20*time.Second), "idle", "how long the admitted cluster is watched idle (meta entries, CPU)")
	f.Var(days.NewValue(&o.ResolverSync, 0), "resolver-sync", "the nodes' resolver_sync (default: the node's, 10m; nats-server's own is 1m)")
	f.IntVar(&o.Senders, "senders", 16, "members sending their receipts of the advisory at once, each on its own connection (and members whose consumers are created at once)")
	f.Var(days.NewValue(&timeout, 3*time.Hour), "timeout", "bound of the whole run")
	f.StringVar(&keep, "keep", "", "run in this directory and keep it: each size's keys, node stores and logs (members-N/logs/), credentials (default: a temporary directory, removed)")
	f.StringVar(&binary, "binary", "", "the tocsin binary the node processes run (default: this one)")
	_ = f.MarkHidden("binary")
	cmd.AddCommand(newBenchScalePlotCmd(g))
	return cmd
}

// newBenchScalePlotCmd is `tocsin bench scale plot`: the curves of the
// --json results of earlier runs, one or several (their points together,
// by members), when one run cannot measure every size in one go.
func newBenchScalePlotCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "plot RESULT.json...",
		Short: "Draw the curves of earlier tocsin bench scale --json results, their points together",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var all scale.Result
			for _, path := range args {
				data, err := os.ReadFile(path)
				if err != nil {
					return usageErr("%v", err)
				}
				var r scale.Result
				if err := json.Unmarshal(data, &r); err != nil || len(r.Points) == 0 {
					return usageErr("%s is not the --json of tocsin bench scale (%v)", path, err)
				}
				all.Points = append(all.Points, r.Points...)
			}
			sort.SliceStable(all.Points, func(i, j int) bool { return all.Points[i].Members < all.Points[j].Members })
			if err := writePlot(&all, out); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "curves of %d sizes drawn in %s\n", len(all.Points), out)
			return printScale(g, &all)
		},
	}
	cmd.Flags().StringVar(&out, "out", "docs/img/scale.svg", "the picture: SVG, or PNG when it ends in .png")
	return cmd
}

// writePlot draws r into path, an SVG or (.png) a PNG.
func writePlot(r *scale.Result, path string) error {
	format := "svg"
	if strings.EqualFold(filepath.Ext(path), ".png") {
		format = "png"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := scale.Plot(r, out, format); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// printScale prints one row per figure, one column per size.
func printScale(g *globals, r *scale.Result) error {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	row := func(name string, cell func(scale.Point) string) {
		fmt.Fprint(w, name+"\t")
		for _, p := range r.Points {
			fmt.Fprint(w, cell(p)+"\t")
		}
		fmt.Fprintln(w)
	}
	dur := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	kib := func(b int64) string { return fmt.Sprintf("%.1f KiB", float64(b)/1024) }
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	row("members", func(p scale.Point) string { return strconv.Itoa(p.Members) })
	row("admission (--lazy-consumers)", func(p scale.Point) string { return dur(p.Admission) })
	row("every member's consumers created", func(p scale.Point) string { return dur(p.ConsumersCreated) })
	row("meta entries, admission and consumers", func(p scale.Point) string { return strconv.FormatUint(p.MetaEntriesAdmission, 10) })
	row("consumers", func(p scale.Point) string { return strconv.Itoa(p.Consumers) })
	row("raft groups (3 nodes; busiest node)", func(p scale.Point) string { return fmt.Sprintf("%d; %d", p.RaftGroups, p.RaftGroupsPerNode) })
	row("idle: meta entries per minute", func(p scale.Point) string { return fmt.Sprintf("%.1f", p.MetaEntriesIdlePerMin) })
	row("idle: CPU of the 3 nodes, cores", func(p scale.Point) string { return fmt.Sprintf("%.2f", p.IdleCores) })
	row("no-quorum warnings in the node logs until then", func(p scale.Point) string { return strconv.Itoa(p.NoQuorumWarnings) })
	row("meta log on disk", func(p scale.Point) string { return kib(int64(p.MetaWALBytes)) })
	row("node RSS, largest, idle", func(p scale.Point) string { return mib(p.NodeRSS) })
	row("stores, 3 nodes", func(p scale.Point) string { return mib(p.StoreBytes) })
	row("directory fetch: read, time", func(p scale.Point) string { return kib(p.DirectoryBytes) + ", " + dur(p.DirectoryTime) })
	row("agent start until live: read, time", func(p scale.Point) string { return kib(p.AgentStartBytesIn) + ", " + dur(p.AgentStart) })
	row("advisory to all: receipts sent, all delivered in reach", func(p scale.Point) string {
		return dur(p.ReceiptsSent) + ", " + dur(p.ReachAllDelivered)
	})
	row("a receipt: node CPU (upper bound), INGEST bytes", func(p scale.Point) string {
		return fmt.Sprintf("%d µs, %d B", p.ReceiptCPU.Microseconds(), p.ReceiptIngestBytes)
	})
	row("REACH: keys, bytes, writes", func(p scale.Point) string {
		return fmt.Sprintf("%d, %s, %d", p.ReachKeys, kib(int64(p.ReachBytes)), p.ReachWrites)
	})
	if len(r.Points) > 0 {
		for i, pg := range r.Points[0].Pages {
			row(pg.Name+": first byte, size", func(p scale.Point) string {
				if i >= len(p.Pages) {
					return "-"
				}
				return dur(p.Pages[i].TTFB) + ", " + kib(int64(p.Pages[i].Bytes))
			})
		}
	}
	row("failover (SIGKILL of the meta leader): writes again", func(p scale.Point) string { return dur(p.FailoverWrite) })
	row("failover: meta layer again (consumer created)", func(p scale.Point) string { return dur(p.FailoverMeta) })
	row("start-up of the killed node until all ready", func(p scale.Point) string { return dur(p.Startup) })
	row("load average (1 min) at the end", func(p scale.Point) string { return fmt.Sprintf("%.1f", p.Load) })
	return w.Flush()
}
