package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func init() { register(newStatusReportCmd) }

func newStatusReportCmd(g *globals) *cobra.Command {
	var (
		state, note, region string
		systems             []string
		exercise            bool
	)
	cmd := &cobra.Command{
		Use:   "status-report --state normal|degraded|diverting|down [--systems ehr,pacs] [--note TEXT] [--region R]",
		Short: "Tell your region how your facility is operating; it shows on the regional board",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := mutualaid.ParseFacilityState(state)
			if err != nil {
				return usageErr("--state: %v", err)
			}
			return g.withAid(cmd, func(s *aidSession) error {
				env, err := s.c.Publish(s.ctx, tocsinv1.Kind_KIND_STATUS_REPORT,
					&tocsinv1.StatusReport{State: st, Systems: systems, Note: note, Region: region, Exercise: exercise})
				if err != nil {
					return err
				}
				if queuedAtSite(s.ctx, g, s.c, env.GetId()) {
					return nil
				}
				f, err := s.waitOnBoard(env.GetId(), region)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(f)
				}
				fmt.Fprintf(g.stdout, "reported %s (%s) at %s: on the regional board\n", f.State, orNone(f.Systems), f.At.Local().Format(time.DateTime))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&state, "state", "", "normal, degraded, diverting or down")
	f.StringSliceVar(&systems, "systems", nil, "systems affected (ehr,pacs)")
	f.StringVar(&note, "note", "", "what your neighbours should know")
	f.StringVar(&region, "region", "", "region of the report (default: your own)")
	f.BoolVar(&exercise, "exercise", false, "mark as an exercise")
	_ = cmd.MarkFlagRequired("state")
	return cmd
}

// waitOnBoard polls the region's board until report id shows on it.
func (s *aidSession) waitOnBoard(id, region string) (*mutualaid.Facility, error) {
	wait := 20 * time.Millisecond
	for {
		b, err := s.board(region)
		if err != nil && s.ctx.Err() == nil {
			return nil, err
		}
		for _, f := range b.Facilities {
			if f.Report == id {
				return &f, nil
			}
		}
		select {
		case <-s.ctx.Done():
			return nil, &exitError{ExitTimeout, errors.New("report " + id + " was published but is not on the board yet; if it was refused, the reason is in your rejections")}
		case <-time.After(wait):
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}
