package cli

import (
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"

	"github.com/tocsin-project/tocsin/internal/days"
)

func newAidOfferCmd(g *globals) *cobra.Command {
	var (
		capability, note string
		qty              uint32
		eta              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "offer REQUEST --capability TYPE|ID --qty N [--eta 4h] [--note TEXT]",
		Short: "Offer units of one of your capabilities to a request (responders)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if qty == 0 {
				return usageErr("--qty: offer at least 1 unit")
			}
			p := &tocsinv1.AidOffer{RequestId: args[0], Capability: capability, Quantity: qty, Note: note}
			if eta > 0 {
				p.Eta = durationpb.New(eta)
			}
			return g.withAid(cmd, func(s *aidSession) error {
				env, err := s.publish(tocsinv1.Kind_KIND_AID_OFFER, p)
				if err != nil {
					return err
				}
				return s.printOfferOf(env.GetId())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&capability, "capability", "", "capability type (incident-response) or id (ir-firm/incident-response)")
	f.Uint32Var(&qty, "qty", 0, "units offered")
	f.Var(days.NewValue(&eta, 0), "eta", "time from acceptance to arrival (default: the capability's lead time)")
	f.StringVar(&note, "note", "", "what the requester should know")
	_ = cmd.MarkFlagRequired("capability")
	_ = cmd.MarkFlagRequired("qty")
	return cmd
}

// printOfferOf reads an offer back through the read path and prints it.
func (s *aidSession) printOfferOf(id string) error {
	r, err := s.show(id)
	if err != nil {
		return err
	}
	return printOffer(s.g, r.Offer, r.Request)
}

// aidStep is a lifecycle command: who runs it, on what, and what it does.
type aidStep struct {
	action tocsinv1.AidAction
	use    string
	short  string
	offer  bool // the argument is an offer id, else a request id
}

var aidSteps = []aidStep{
	{tocsinv1.AidAction_AID_ACTION_ACCEPT, "accept OFFER [--qty N]", "Accept an offer on your request (--qty accepts part of it); books the responder's units", true},
	{tocsinv1.AidAction_AID_ACTION_DECLINE, "decline OFFER", "Decline an offer on your request", true},
	{tocsinv1.AidAction_AID_ACTION_WITHDRAW, "withdraw OFFER", "Withdraw your offer before it is accepted", true},
	{tocsinv1.AidAction_AID_ACTION_MOBILISE, "mobilise OFFER", "Tell the requester your accepted team is on its way", true},
	{tocsinv1.AidAction_AID_ACTION_ARRIVE, "arrive OFFER", "Tell the requester your team is on site", true},
	{tocsinv1.AidAction_AID_ACTION_DEMOBILISE, "demobilise OFFER", "Tell the requester your team has left; its units are free again", true},
	{tocsinv1.AidAction_AID_ACTION_CLOSE, "close REQUEST", "Close your request: no more help needed; units still booked for it are released", false},
	{tocsinv1.AidAction_AID_ACTION_CANCEL, "cancel REQUEST", "Cancel your request; units still booked for it are released", false},
}

// newAidStepCmds builds one command per lifecycle step.
func newAidStepCmds(g *globals) []*cobra.Command {
	var cmds []*cobra.Command
	for _, st := range aidSteps {
		var qty uint32
		var note string
		cmd := &cobra.Command{
			Use:   st.use,
			Short: st.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				d := &tocsinv1.AidDecision{Action: st.action, Quantity: qty, Note: note}
				if st.offer {
					d.OfferId = args[0]
				} else {
					d.RequestId = args[0]
				}
				return g.withAid(cmd, func(s *aidSession) error {
					if _, err := s.publish(tocsinv1.Kind_KIND_AID_DECISION, d); err != nil {
						return err
					}
					if st.offer {
						return s.printOfferOf(args[0])
					}
					return s.printRequestOf(args[0], false)
				})
			},
		}
		if st.action == tocsinv1.AidAction_AID_ACTION_ACCEPT {
			cmd.Flags().Uint32Var(&qty, "qty", 0, "units to accept (default: the whole offer)")
		}
		cmd.Flags().StringVar(&note, "note", "", "free text recorded with the step")
		cmds = append(cmds, cmd)
	}
	return cmds
}
