package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/mutualaid"
)

func init() { register(newSituationCmd) }

func newSituationCmd(g *globals) *cobra.Command {
	var region string
	cmd := &cobra.Command{
		Use:   "situation [--region R]",
		Short: "The regional board: each facility's last status report, worst first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withAid(cmd, func(s *aidSession) error {
				b, err := s.board(region)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(b)
				}
				fmt.Fprintf(g.stdout, "region %s: %d facilities reporting\n", b.Region, len(b.Facilities))
				if b.CachedAt != nil {
					fmt.Fprintf(g.stdout, "cached at the site: the hub is unreachable; the board as of %s\n", b.CachedAt.Local().Format(time.DateTime))
				}
				if len(b.Unreachable) > 0 {
					fmt.Fprintf(g.stdout, "incomplete: the reports kept in region %s could not be read (the region is away); its members' facilities are missing\n", strings.Join(b.Unreachable, ", "))
				}
				w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "MEMBER\tNAME\tSTATE\tSYSTEMS\tSINCE\tNOTE")
				for _, f := range b.Facilities {
					state := f.State
					if f.Exercise {
						state += " (EXERCISE)"
					}
					if f.AtSite {
						state += " (queued at the site)"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Member, f.Name, state, orDash(strings.Join(f.Systems, ",")), f.At.Local().Format(time.DateTime), f.Note)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "region (default: your own)")
	return cmd
}

// board reads a region's board (the member's own when region is empty).
func (s *aidSession) board(region string) (*mutualaid.Board, error) {
	var b mutualaid.Board
	err := mutualaid.Ask(s.ctx, s.c.Conn(), mutualaid.SituationSubject(s.c.Member()), mutualaid.SituationQuery{Region: region}, &b)
	return &b, askErr(err)
}
