package cli

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/internal/days"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

func newAidRequestCmd(g *globals) *cobra.Command {
	var (
		needs                        []string
		to                           []string
		urgency, region, level, note string
		expires                      time.Duration
		exercise                     bool
	)
	cmd := &cobra.Command{
		Use:   "request --need TYPE:N,... --tlp LEVEL [--urgency flash] [--region R] [--to ORG,...] [--expires 48h] [--note TEXT]",
		Short: "Ask for help: the responders whose capabilities match (and the TLP allows) are notified",
		Long: `File a mutual-aid request. The aid service matches it against the responders'
capabilities (type, region served, free units) and notifies each matching
responder. TLP decides who is told and may see it: clear, green and amber go
to the matching responders and the --to organisations; amber+strict and red
only to the --to organisations (required), even when others match.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := &tocsinv1.AidRequest{Region: region, To: to, Note: note, Exercise: exercise}
			var err error
			if p.Needs, err = parseNeeds(needs); err != nil {
				return err
			}
			if p.Urgency, err = parseLane("--urgency", urgency); err != nil {
				return err
			}
			l, err := tlp.Parse(level)
			if err != nil {
				return usageErr("--tlp: %v", err)
			}
			p.Tlp = l.Proto()
			if l > tlp.Amber && len(to) == 0 {
				return usageErr("--to is required for %s: name the organisations that may see the request", l)
			}
			if expires <= 0 {
				return usageErr("--expires %s: give how long the request stays open, such as 48h", expires)
			}
			p.ExpiresAt = timestamppb.New(time.Now().Add(expires))
			return g.withAid(cmd, func(s *aidSession) error {
				env, err := s.publish(tocsinv1.Kind_KIND_AID_REQUEST, p)
				if err != nil {
					return err
				}
				return s.printRequestOf(env.GetId(), false)
			})
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&needs, "need", nil, "capabilities needed, TYPE:UNITS, comma-separated (incident-response:2,ehr-downtime-support:1)")
	f.StringVar(&urgency, "urgency", "urgent", "flash, urgent, routine or info")
	f.StringVar(&region, "region", "", "region where help is needed (default: your own)")
	f.StringVar(&level, "tlp", "", "TLP: clear, green, amber, amber+strict or red")
	f.StringSliceVar(&to, "to", nil, "organisations that may see it (required for amber+strict and red)")
	f.Var(days.NewValue(&expires, 48*time.Hour), "expires", "how long it stays open")
	f.StringVar(&note, "note", "", "what the responders should know")
	f.BoolVar(&exercise, "exercise", false, "mark as an exercise")
	_ = cmd.MarkFlagRequired("need")
	_ = cmd.MarkFlagRequired("tlp")
	return cmd
}

// parseNeeds reads TYPE:UNITS items (UNITS defaults to 1).
func parseNeeds(items []string) ([]*tocsinv1.AidNeed, error) {
	var out []*tocsinv1.AidNeed
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		typ, n, found := strings.Cut(item, ":")
		qty := uint64(1)
		if found {
			var err error
			if qty, err = strconv.ParseUint(strings.TrimSpace(n), 10, 32); err != nil || qty == 0 {
				return nil, usageErr("--need %q: the units after %q must be a whole number, at least 1", item, typ+":")
			}
		}
		out = append(out, &tocsinv1.AidNeed{Capability: strings.TrimSpace(typ), Quantity: uint32(qty)})
	}
	if len(out) == 0 {
		return nil, usageErr("--need: name at least one capability, such as incident-response:2")
	}
	return out, nil
}

// parseLane reads a lane name given with flag.
func parseLane(flag, name string) (tocsinv1.Lane, error) {
	v, ok := tocsinv1.Lane_value["LANE_"+strings.ToUpper(name)]
	if !ok || v == 0 {
		return 0, usageErr("%s %q: use flash, urgent, routine or info", flag, name)
	}
	return tocsinv1.Lane(v), nil
}
