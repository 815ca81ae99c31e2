package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func init() { register(newAidCmd) }

func newAidCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aid",
		Short: "Mutual aid: capabilities, requests, offers, and the lifecycle from accept to demobilise",
		Long: `Mutual aid between members. Every step is a message signed with your key;
with --json each command prints the object it created or changed (with its
id and state). Exit codes: 0 done, 1 usage, 2 refused (the reason is
printed), 3 cannot connect, 4 timed out.`,
	}
	cmd.AddCommand(newAidCapabilityCmd(g), newAidRequestCmd(g), newAidOfferCmd(g), newAidShowCmd(g), newAidListCmd(g))
	cmd.AddCommand(newAidStepCmds(g)...)
	return cmd
}

// aidSession is one aid command's connection as the member of --creds.
type aidSession struct {
	g   *globals
	c   *client.Client
	ctx context.Context
}

// withAid runs f with a connection as the member of --creds, for one
// command; --timeout bounds the whole command.
func (g *globals) withAid(cmd *cobra.Command, f func(s *aidSession) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	c, err := g.connectClient(ctx, cmd.CommandPath())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := f(&aidSession{g: g, c: c, ctx: ctx}); !errors.Is(err, errQueuedAtSite) {
		return err
	}
	return nil
}

// errQueuedAtSite ends an aid command whose message the member's site
// stored (queuedAtSite said so): the outcome and the read-back are the
// hub's, once the site has forwarded it. The command exits 0.
var errQueuedAtSite = errors.New("queued at the member's site")

// publish seals payload, publishes it on the member's aid (or status)
// subject and waits for the service's outcome. A refusal is printed (as
// JSON with --json) and returned as an exit-2 error. At a member's site
// the site's PubAck ends the command (errQueuedAtSite).
func (s *aidSession) publish(kind tocsinv1.Kind, payload proto.Message) (*tocsinv1.Envelope, error) {
	env, err := s.c.Publish(s.ctx, kind, payload)
	if err != nil {
		return nil, err
	}
	if queuedAtSite(s.ctx, s.g, s.c, env.GetId()) {
		return nil, errQueuedAtSite
	}
	o, err := s.c.WaitOutcome(s.ctx, env.GetId())
	if err != nil {
		return nil, err
	}
	if o.GetState() == tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
		return nil, s.refused(env.GetId(), o.GetRejection().GetProblems())
	}
	return env, nil
}

// refused prints a refusal and returns its exit-2 error.
func (s *aidSession) refused(id string, problems []*tocsinv1.Problem) error {
	res := struct {
		ID         string          `json:"id"`
		State      string          `json:"state"`
		Rejections []problemResult `json:"rejections"`
	}{ID: id, State: "rejected", Rejections: []problemResult{}}
	for _, p := range problems {
		res.Rejections = append(res.Rejections, problemResult{Code: codes.Name(p.GetCode()), Message: p.GetMessage()})
	}
	if len(res.Rejections) == 0 {
		res.Rejections = append(res.Rejections, problemResult{Code: "rejected", Message: "no reason given"})
	}
	if s.g.json {
		if err := s.g.printJSON(res); err != nil {
			return err
		}
	}
	return rejectedErr(fmt.Errorf("%s refused: %s: %s", id, res.Rejections[0].Code, res.Rejections[0].Message))
}

// ask sends a read request to the aid service as the member.
func (s *aidSession) ask(op mutualaid.Op, in, out any) error {
	return askErr(mutualaid.Ask(s.ctx, s.c.Conn(), mutualaid.QuerySubject(s.c.Member(), op), in, out))
}

// askErr maps read-path errors to exit codes: a refusal is 2, no service
// answering is 3.
func askErr(err error) error {
	var ce *codes.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return rejectedErr(err)
	case errors.Is(err, nats.ErrNoResponders):
		return &exitError{ExitUnreachable, fmt.Errorf("no aid service answered: %w; is the cluster running it?", err)}
	}
	return err
}

// show reads a request (by its id or an offer's) as the member sees it.
func (s *aidSession) show(id string) (*mutualaid.ShowReply, error) {
	var r mutualaid.ShowReply
	if err := s.ask(mutualaid.OpShow, mutualaid.ShowQuery{ID: id}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// printRequestOf reads a request back through the read path and prints it.
func (s *aidSession) printRequestOf(id string, full bool) error {
	r, err := s.show(id)
	if err != nil {
		return err
	}
	return printRequest(s.g, r.Request, full)
}
