package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

func init() { register(newAckCmd) }

func newAckCmd(g *globals) *cobra.Command {
	var (
		actioned         bool
		note, by, region string
	)
	cmd := &cobra.Command{
		Use:   "ack ID [--actioned] [--by WHO] [--note TEXT]",
		Short: "Tell the sender (and the liaison) that you have read an alert or advisory, or acted on it",
		Long: `Send a signed receipt for message ID: acknowledged (an analyst has read it) or,
with --actioned, actioned (an analyst has acted on it), and wait for the router's
decision: an id that was never routed to you is refused (exit 2). --by says who
acknowledged ("J. Ortiz, SOC lead"): the liaison's reach shows it. Once accepted,
the router echoes the receipt to your own inbox, so every agent and console of
yours sees that someone has it (an agent's pager stops escalating). The agent
already sends "delivered" when its sinks have the message. While the cluster is
out of reach, POST the receipt to the agent's local endpoint instead: it keeps it
in its outbox.

On a channel that runs a stream set per region (docs/REGIONS.md), a copy routed
in another region than your home region (its subject tocsin.r.<region>.…, as
tocsin tail and the agent's record show it) takes --region <region>: the
receipt is then filed in that region's REACH, where its sender reads it. Without
--region the router looks in your home region's records (the only region of a
single cluster), then in the other regions' (3 s each), and files the receipt
in the region that routed the message. The agent's endpoint and its pager name
the region themselves, from the copy they have.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !envelope.ValidID(args[0]) {
				return usageErr("%q is not a message id", args[0])
			}
			if region != "" && !regionName.MatchString(region) {
				return usageErr("--region %q is not a region's name: the <region> of the copy's subject tocsin.r.<region>.…", region)
			}
			if len(by) > records.MaxReceiptBy {
				return usageErr("--by is at most %d bytes, this one %d: give a name or a role (\"J. Ortiz, SOC lead\")", records.MaxReceiptBy, len(by))
			}
			state := tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED
			if actioned {
				state = tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			cl, err := g.member(ctx, "tocsin ack")
			if err != nil {
				return err
			}
			defer cl.Close()
			rc := agent.NewReceipt(args[0], state, note)
			rc.By, rc.RefRegion = by, region
			env, err := publishOnce(ctx, cl, tocsinv1.Kind_KIND_RECEIPT, rc)
			if err != nil {
				return err
			}
			if queuedAtSite(ctx, g, cl, env.GetId()) {
				return nil
			}
			// The router checks that the message was routed to this member.
			o, err := cl.WaitOutcome(ctx, env.GetId())
			if err != nil {
				return err
			}
			if o.GetState() == tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
				p := o.GetRejection().GetProblems()
				reason := "refused"
				if len(p) > 0 {
					reason = codes.Name(p[0].GetCode()) + ": " + p[0].GetMessage()
				}
				if region == "" && cl.StoredInRegion() != "" {
					reason += "; if the copy came through another region (its subject tocsin.r.<region>.…), name it with --region <region>"
				}
				return rejectedErr(fmt.Errorf("not %s: %s", agent.ReceiptStateName(state), reason))
			}
			if g.json {
				return g.printJSON(map[string]string{"receipt": env.GetId(), "ref": args[0], "state": agent.ReceiptStateName(state), "by": by})
			}
			who := ""
			if by != "" {
				who = " by " + by
			}
			fmt.Fprintf(g.stdout, "%s %s%s (receipt %s)\n", agent.ReceiptStateName(state), args[0], who, env.GetId())
			return nil
		},
	}
	cmd.Flags().BoolVar(&actioned, "actioned", false, "you have acted on it, not only read it")
	cmd.Flags().StringVar(&note, "note", "", "a short note (\"blocked at perimeter 02:31\")")
	cmd.Flags().StringVar(&region, "region", "", "the region whose router routed the copy (the <region> of its subject tocsin.r.<region>.…), on a channel with a stream set per region; default: your home region's")
	cmd.Flags().StringVar(&by, "by", "", "who acknowledged, a name or a role (\"J. Ortiz, SOC lead\"); the liaison's reach shows it")
	return cmd
}

// regionName is what a region's name looks like: a gateway cluster name.
var regionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// member connects as the member of --creds (trusting --tls-ca).
func (g *globals) member(ctx context.Context, name string) (*client.Client, error) {
	if g.creds == "" {
		return nil, usageErr("--creds FILE is required (or $TOCSIN_CREDS)")
	}
	if _, err := os.Stat(g.creds); err != nil {
		return nil, usageErr("--creds %q: %v", g.creds, err)
	}
	tlsOpts, err := g.natsTLS()
	if err != nil {
		return nil, err
	}
	cl, err := client.Connect(ctx, client.Options{Servers: g.server, CredsFile: g.creds, Name: name, Timeout: g.timeout, NATS: tlsOpts})
	if errors.Is(err, client.ErrCreds) {
		return nil, &exitError{ExitUsage, err}
	}
	if err != nil {
		return nil, &exitError{ExitUnreachable, err}
	}
	return cl, nil
}

// publishOnce seals payload once and publishes it, retrying the same
// envelope (same id, so the cluster keeps one) until it is acknowledged or
// ctx ends.
func publishOnce(ctx context.Context, cl *client.Client, kind tocsinv1.Kind, payload proto.Message) (*tocsinv1.Envelope, error) {
	env, err := cl.Signer().Seal(kind, payload)
	if err != nil {
		return nil, err
	}
	wait := 100 * time.Millisecond
	for {
		err := cl.PublishEnvelope(ctx, env)
		if err == nil {
			return env, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%v; not sent: %w", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
