package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/reach"
)

func init() { register(newReachCmd) }

func newReachCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reach ADVISORY_ID",
		Short: "Show, per sector, who has received, acknowledged and acted on a message you sent (advisory, alert, RED note)",
		Long: `Show the reach of a message you sent (an advisory, an alert, a RED note): for each
addressed sector, every member organisation with the time its agent delivered
the message, the time an analyst acknowledged it and the time one acted on it
(and who, when the receipt said so: tocsin ack --by), and who has sent nothing
yet. The liaison's report lists, for every member that has not acknowledged, its
24/7 contact from the registry, for the follow-up call, and, for its CSAF
advisories, how many members of each sector said they are affected (agent
--report-affected): a count from 3 up, "fewer than 3" below, never who. Any member may ask for
the reach of its own messages and of nothing else: the router answers only the
sender (another's message exits 2).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			cl, err := g.member(ctx, "tocsin reach")
			if err != nil {
				return err
			}
			defer cl.Close()
			rep, err := reach.Of(ctx, cl, args[0])
			if errors.Is(err, reach.ErrNotRouted) {
				return rejectedErr(err)
			}
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(rep)
			}
			printReach(g, rep)
			return nil
		},
	}
}

func printReach(g *globals, rep *reach.Report) {
	fmt.Fprintf(g.stdout, "%s, TLP:%s, routed %s: %d organisations, %d delivered, %d acknowledged, %d actioned\n",
		rep.ID, strings.ToUpper(rep.TLP), rep.Routed.Local().Format(time.RFC3339), rep.Organisations, rep.Delivered, rep.Acknowledged, rep.Actioned)
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
	table := func(title string, ms []reach.Member) {
		fmt.Fprintln(g.stdout)
		fmt.Fprintln(g.stdout, title)
		w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  MEMBER\tDELIVERED\tACKNOWLEDGED\tACTIONED\tBY")
		for _, m := range ms {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", m.Member, at(m.Delivered), at(m.Acknowledged), at(m.Actioned), m.By)
		}
		w.Flush()
	}
	for _, s := range rep.Sectors {
		table(fmt.Sprintf("%s: %d of %d delivered, %d acknowledged, %d actioned", s.Sector, s.Delivered, len(s.Members), s.Acknowledged, s.Actioned), s.Members)
		if len(s.NotYet) > 0 {
			fmt.Fprintf(g.stdout, "  not yet: %s\n", strings.Join(s.NotYet, ", "))
		}
		if s.Affected != "" {
			fmt.Fprintf(g.stdout, "  affected (members whose own inventory matched): %s\n", s.Affected)
		}
		printCalls(g, s.Members)
	}
	if len(rep.Recipients) > 0 {
		table("direct recipients", rep.Recipients)
		printCalls(g, rep.Recipients)
	}
	if rep.ContactsError != "" {
		fmt.Fprintf(g.stdout, "\nno contacts for the follow-up calls: %s\n", rep.ContactsError)
	}
}

// printCalls lists the members of ms that have not acknowledged, with
// their 24/7 contacts, when the report has contacts (the liaison's).
func printCalls(g *globals, ms []reach.Member) {
	var calls []reach.Member
	with := false
	for _, m := range ms {
		if m.Acknowledged.IsZero() {
			calls = append(calls, m)
			with = with || m.Contact != ""
		}
	}
	if !with {
		return
	}
	fmt.Fprintln(g.stdout, "  not acknowledged, to call:")
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	for _, m := range calls {
		c := m.Contact
		if c == "" {
			c = "(no contact in the registry)"
		}
		fmt.Fprintf(w, "    %s\t%s\n", m.Member, c)
	}
	w.Flush()
}
