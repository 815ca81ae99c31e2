package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/chaos"
	"github.com/tocsin-project/tocsin/internal/days"
)

func init() { register(newChaosCmd) }

// exitChaosFailed is tocsin chaos's exit code when the checker found
// something lost, duplicated or unexpected (or a crash, or bad input let
// through).
const exitChaosFailed = 5

func newChaosCmd(g *globals) *cobra.Command {
	var (
		o        chaos.Options
		jsonPath string
		dir      string
		keep     bool
		badKiB   int
	)
	cmd := &cobra.Command{
		Use:   "chaos [--duration D] [--seed N] [--json FILE] [--sync always|2m]",
		Short: "Fault injection on a real 3-node cluster on loopback, with a no-loss checker (see docs/RELIABILITY.md)",
		Long: `Run this tocsin binary as three node processes on loopback (auth and TLS
from tocsin init, routes through proxies), member agents writing JSONL sinks,
and publishers recording every PubAck; inject faults (node kill, pause,
rolling restart, partition, latency, INGEST leader kill, agent crash, a member
site's WAN cut, power loss and slow link; with --regions a region's gateway
cut and loss) with bad input at full speed; heal, drain, and check: nothing
acknowledged lost, nothing duplicated, nothing unexpected. Two agents' members
run a member site (tocsin site, its leaf link through proxies): their agents
read at the site and they publish there too. Exit 5 when the check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary: %w", err)
			}
			o.Binary, o.BadBytesPerSecond = bin, badKiB<<10
			o.NoSites = o.Sites == 0
			temporary := dir == ""
			if temporary {
				if dir, err = os.MkdirTemp("", "tocsin-chaos-"); err != nil {
					return err
				}
			} else if err := checkEmptyDir(dir); err != nil {
				return err
			}
			o.Dir, o.Progress = dir, g.stderr
			log, err := g.logger()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, o.Duration+30*time.Minute)
			defer cancel()
			r, err := chaos.Run(ctx, o, log)
			if err != nil {
				fmt.Fprintf(g.stderr, "logs in %s\n", dir)
				return usageOr(err)
			}
			if jsonPath != "" {
				if err := r.WriteJSON(jsonPath); err != nil {
					return err
				}
			}
			if g.json {
				if err := g.printJSON(r); err != nil {
					return err
				}
			} else {
				r.PrintTable(g.stdout)
			}
			if r.Passed() && temporary && !keep {
				return os.RemoveAll(dir)
			}
			fmt.Fprintf(g.stderr, "logs, sinks and publisher logs in %s\n", dir)
			if !r.Passed() {
				return &exitError{exitChaosFailed, fmt.Errorf("chaos check failed: %d problems", len(r.Failures))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Var(days.NewValue(&o.Duration, 3*time.Minute), "duration", "how long to inject faults (every fault runs at least once)")
	f.Int64Var(&o.Seed, "seed", 1, "seed of the fault order, victims and workload")
	f.StringVar(&jsonPath, "json", "", "also write the report as JSON to FILE")
	f.StringVar(&o.Sync, "sync", "always", `the nodes' sync_interval: "always" or a duration such as 2m (the NATS default)`)
	f.IntVar(&o.Agents, "agents", 4, "member agents")
	f.IntVar(&o.Publishers, "publishers", 3, "publishing members")
	f.Float64Var(&o.Rate, "rate", 4, "alerts a second per publisher")
	f.Var(days.NewValue(&o.Hold, 8*time.Second), "hold", "how long each fault lasts")
	f.Var(days.NewValue(&o.Recovery, 90*time.Second), "recovery", "longest wait for a caught-up cluster after each heal (slower is reported)")
	f.Var(days.NewValue(&o.Drain, 2*time.Minute), "drain", "longest wait for every acknowledged alert after the last heal (then what is missing is lost)")
	f.Var(days.NewValue(&o.SlowDelivery, 90*time.Second), "slow-delivery", "fail when an acknowledged alert takes longer than this to reach a sink")
	f.Var(days.NewValue(&o.Latency, 150*time.Millisecond), "latency", "latency the latency fault adds to each route, each way")
	f.StringSliceVar(&o.Faults, "faults", nil, fmt.Sprintf("faults to inject (default %s; also %s: needs root and /dev/fuse)",
		strings.Join(chaos.DefaultFaults(), ","), chaos.FaultPowerLoss))
	f.BoolVar(&o.NoBadInput, "no-bad-input", false, "do not run the bad-input campaign")
	f.BoolVar(&o.Regions, "regions", false, "run deploy/regions on loopback (east and west each with its stream set, the registry in east, a witness) and add the region faults "+strings.Join(chaos.RegionFaults(), ","))
	f.IntVar(&o.Sites, "sites", 2, "agents' members that run a member site (tocsin site; 0: none, and no site fault)")
	f.Var(days.NewValue(&o.SiteCut, 2*time.Minute), "site-cut", "how long a site's WAN cut lasts")
	f.IntVar(&badKiB, "bad-kib", 128, "KiB a second of large bad input (16 KiB and more, kept 7 days by INGEST); smaller pieces go at full speed")
	f.StringVar(&dir, "dir", "", "run directory (default: a temporary one, removed after a pass unless --keep)")
	f.BoolVar(&keep, "keep", false, "keep the temporary run directory")
	return cmd
}

// usageOr marks invalid options as a usage error.
func usageOr(err error) error {
	if errors.Is(err, chaos.ErrOptions) {
		return &exitError{ExitUsage, err}
	}
	return err
}

// checkEmptyDir refuses a --dir that holds files.
func checkEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err == nil && len(entries) > 0 {
		return usageErr("--dir %s is not empty: give a new directory", filepath.Clean(dir))
	}
	return nil
}
