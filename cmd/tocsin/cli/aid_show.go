package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/mutualaid"
)

func newAidShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a request (by its id or an offer's): needs, offers and the signed timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withAid(cmd, func(s *aidSession) error {
				return s.printRequestOf(args[0], true)
			})
		},
	}
}

func newAidListCmd(g *globals) *cobra.Command {
	var q mutualaid.ListQuery
	cmd := &cobra.Command{
		Use:   "list [--open] [--mine]",
		Short: "List the requests you may see, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withAid(cmd, func(s *aidSession) error {
				var r mutualaid.ListReply
				if err := s.ask(mutualaid.OpList, q, &r); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(r)
				}
				w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tSTATE\tURGENCY\tTLP\tREGION\tREQUESTER\tNEEDS\tOFFERS\tEXPIRES")
				for _, req := range r.Requests {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", req.ID, req.State, req.Urgency, req.TLP, req.Region,
						req.Requester, needsLine(req.Needs), len(req.Offers), req.ExpiresAt.Local().Format(time.DateTime))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&q.Open, "open", false, "only requests still taking offers")
	cmd.Flags().BoolVar(&q.Mine, "mine", false, "only your requests and those you offered on")
	return cmd
}

// needsLine spells needs as "incident-response 2/2, ehr-downtime-support 0/1".
func needsLine(needs []mutualaid.Need) string {
	parts := make([]string, len(needs))
	for i, n := range needs {
		parts[i] = fmt.Sprintf("%s %d/%d", n.Capability, n.Accepted, n.Quantity)
	}
	return strings.Join(parts, ", ")
}

// printRequest prints a request (as JSON with --json); full adds the
// offers and the timeline.
func printRequest(g *globals, r *mutualaid.Request, full bool) error {
	if g.json {
		return g.printJSON(r)
	}
	exercise := ""
	if r.Exercise {
		exercise = " EXERCISE"
	}
	fmt.Fprintf(g.stdout, "request %s %s%s (%s, tlp %s, region %s, by %s, expires %s)\n", r.ID, r.State, exercise, r.Urgency, r.TLP,
		r.Region, r.Requester, r.ExpiresAt.Local().Format(time.DateTime))
	fmt.Fprintf(g.stdout, "  needs: %s\n", needsLine(r.Needs))
	if r.Note != "" {
		fmt.Fprintf(g.stdout, "  note: %s\n", r.Note)
	}
	if len(r.To) > 0 {
		fmt.Fprintf(g.stdout, "  to: %s\n", strings.Join(r.To, ", "))
	}
	if r.Audience != nil {
		fmt.Fprintf(g.stdout, "  notified: %s\n", orNone(r.Audience))
	}
	if !full {
		return nil
	}
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nOFFER\tRESPONDER\tCAPABILITY\tUNITS\tACCEPTED\tSTATE\tETA")
	for _, o := range r.Offers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", o.ID, o.Responder, o.Capability, o.Quantity, o.Accepted, o.State, time.Duration(o.ETA))
	}
	fmt.Fprintln(w, "\nTIME\tSTEP\tSIGNED BY\tSTATE\tOFFER\tKEY\tNOTE")
	for _, e := range r.Timeline {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Action, e.By, e.State, orDash(e.Offer), shortKey(e.KeyID), e.Note)
	}
	return w.Flush()
}

// printOffer prints an offer (as JSON with --json) and its request's state.
func printOffer(g *globals, o *mutualaid.Offer, r *mutualaid.Request) error {
	if g.json {
		return g.printJSON(o)
	}
	fmt.Fprintf(g.stdout, "offer %s %s: %d %s (accepted %d) from %s, eta %s; request %s is %s (%s)\n", o.ID, o.State, o.Quantity, o.Capability,
		o.Accepted, o.Responder, time.Duration(o.ETA), r.ID, r.State, needsLine(r.Needs))
	return nil
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortKey abbreviates a public key for tables.
func shortKey(k string) string {
	if len(k) > 12 {
		return k[:12] + "…"
	}
	return k
}
