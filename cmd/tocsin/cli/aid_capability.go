package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tocsin-project/tocsin/internal/days"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func newAidCapabilityCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capability",
		Short: "Your mission-ready packages (responders): add, list, remove",
		Long: `A responder's capabilities are the packages its member record lists (the
registry) updated by what it registers here: "add" with the id of a registry
package replaces it, with a new id adds one; "remove" hides one. Units booked
by accepted offers stay booked through every change until they demobilise or
their request ends.`,
	}
	cmd.AddCommand(newAidCapabilityAddCmd(g), newAidCapabilityListCmd(g), newAidCapabilityRemoveCmd(g))
	return cmd
}

func newAidCapabilityAddCmd(g *globals) *cobra.Command {
	var (
		p        tocsinv1.AidCapability
		regions  []string
		leadTime time.Duration
	)
	cmd := &cobra.Command{
		Use:   "add --type TYPE --capacity N [--regions R,...] [--lead-time 4h] [--contact TEXT] [--id ID]",
		Short: "Register or update a capability package",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.Capacity == 0 {
				return usageErr("--capacity: at least 1 unit available at once")
			}
			if leadTime < 0 {
				return usageErr("--lead-time %s is negative", leadTime)
			}
			p.Regions, p.LeadTime = regions, durationpb.New(leadTime)
			return g.withAid(cmd, func(s *aidSession) error {
				if p.Id == "" {
					p.Id = s.c.Member() + "/" + p.Type
				}
				if _, err := s.publish(tocsinv1.Kind_KIND_CAPABILITY, &p); err != nil {
					return err
				}
				return s.printCapability(p.Id)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Type, "type", "", "capability type (incident-response, forensics, ehr-downtime-support, ...)")
	f.Uint32Var(&p.Capacity, "capacity", 0, "units available at once")
	f.StringSliceVar(&regions, "regions", nil, "regions served (default: every region)")
	f.Var(days.NewValue(&leadTime, 0), "lead-time", "time from acceptance to arrival")
	f.StringVar(&p.Contact, "contact", "", "who to call about this package")
	f.StringVar(&p.Id, "id", "", "capability id (default <you>/<type>)")
	_ = cmd.MarkFlagRequired("type")
	_ = cmd.MarkFlagRequired("capacity")
	return cmd
}

func newAidCapabilityRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a capability package: it is no longer matched or offered",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withAid(cmd, func(s *aidSession) error {
				if _, err := s.publish(tocsinv1.Kind_KIND_CAPABILITY, &tocsinv1.AidCapability{Id: args[0], Removed: true}); err != nil {
					return err
				}
				return s.printCapability(args[0])
			})
		},
	}
}

func newAidCapabilityListCmd(g *globals) *cobra.Command {
	var responder string
	cmd := &cobra.Command{
		Use:   "list [--responder ID]",
		Short: "List your capabilities with their booked and free units (the liaison may name a responder)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withAid(cmd, func(s *aidSession) error {
				var r mutualaid.CapabilitiesReply
				if err := s.ask(mutualaid.OpCapabilities, mutualaid.CapabilitiesQuery{Responder: responder}, &r); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(r)
				}
				w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tTYPE\tSTATE\tCAPACITY\tBOOKED\tFREE\tREGIONS\tLEAD TIME\tSOURCE")
				for _, c := range r.Capabilities {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", c.ID, c.Type, c.State, c.Capacity, c.Booked, c.Free,
						regionsOf(c.Regions), time.Duration(c.LeadTime), c.Source)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&responder, "responder", "", "whose capabilities (default: yours)")
	return cmd
}

// printCapability reads one of the member's capabilities back and prints it.
func (s *aidSession) printCapability(id string) error {
	var r mutualaid.CapabilitiesReply
	if err := s.ask(mutualaid.OpCapabilities, mutualaid.CapabilitiesQuery{}, &r); err != nil {
		return err
	}
	for _, c := range r.Capabilities {
		if c.ID != id {
			continue
		}
		if s.g.json {
			return s.g.printJSON(c)
		}
		fmt.Fprintf(s.g.stdout, "capability %s %s: %s, %d units (%d booked, %d free), regions %s, lead time %s\n",
			c.ID, c.State, c.Type, c.Capacity, c.Booked, c.Free, regionsOf(c.Regions), time.Duration(c.LeadTime))
		return nil
	}
	return fmt.Errorf("capability %s was registered but is not listed; try 'tocsin aid capability list'", id)
}

func regionsOf(rs []string) string {
	if len(rs) == 0 {
		return "all"
	}
	return strings.Join(rs, ",")
}
