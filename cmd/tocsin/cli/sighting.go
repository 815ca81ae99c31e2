package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/agent"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func init() { register(newSightingCmd) }

func newSightingCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sighting",
		Short: "Report sightings of an indicator (counted anonymously per sector)",
	}
	cmd.AddCommand(newSightingReportCmd(g))
	return cmd
}

func newSightingReportCmd(g *globals) *cobra.Command {
	var (
		indicator string
		count     uint32
		named     bool
	)
	cmd := &cobra.Command{
		Use:   "report --indicator ID [--count N] [--named]",
		Short: "Report that you saw an indicator of a routed alert in your own environment",
		Long: `Send a signed sighting of a STIX indicator ("indicator--<uuid>") from a routed
alert. The router counts the distinct organisations of each sector that saw it
and tells the sector and the originator how many, naming you only with --named.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := &tocsinv1.Sighting{IndicatorId: indicator, Count: count, Named: named}
			if err := agent.CheckSighting(s); err != nil {
				return usageErr("%v", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			cl, err := g.member(ctx, "tocsin sighting")
			if err != nil {
				return err
			}
			defer cl.Close()
			env, err := publishOnce(ctx, cl, tocsinv1.Kind_KIND_SIGHTING, s)
			if err != nil {
				return err
			}
			if queuedAtSite(ctx, g, cl, env.GetId()) {
				return nil
			}
			if g.json {
				return g.printJSON(map[string]any{"sighting": env.GetId(), "indicator": indicator, "count": s.Count, "named": named})
			}
			fmt.Fprintf(g.stdout, "sighting of %s sent (%s)\n", indicator, env.GetId())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&indicator, "indicator", "", "the STIX id of the indicator seen (indicator--...)")
	f.Uint32Var(&count, "count", 1, "how many times you saw it")
	f.BoolVar(&named, "named", false, "agree to be named to the originator")
	_ = cmd.MarkFlagRequired("indicator")
	return cmd
}
