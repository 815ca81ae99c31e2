package console

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/mutualaid"
)

// Aid is the mutual-aid read path the console shows: what a member may
// see of requests and offers, and a region's situation board. The
// mutual-aid service answers it (NATSAid); a test or another backend can
// stand in.
type Aid interface {
	// List returns the requests member may see, newest first.
	List(ctx context.Context, member string) (*mutualaid.ListReply, error)
	// Show returns one request (by its id or an offer's) as member may see it.
	Show(ctx context.Context, member, id string) (*mutualaid.ShowReply, error)
	// Board returns a region's situation board ("" for member's region).
	Board(ctx context.Context, member, region string) (*mutualaid.Board, error)
}

// NATSAid asks the mutual-aid service on its read path
// (tocsin.svc.aid.<member>.<op>, tocsin.svc.situation.<member>) over the
// node's service connection, on behalf of the logged-in member: the
// service answers with what that member may see.
type NATSAid struct {
	// NC is the node's service connection.
	NC *nats.Conn
	// Timeout bounds one question. Default 5s.
	Timeout time.Duration
}

func (a NATSAid) ask(ctx context.Context, subject string, in, out any) error {
	t := a.Timeout
	if t == 0 {
		t = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	return mutualaid.Ask(ctx, a.NC, subject, in, out)
}

// List implements Aid.
func (a NATSAid) List(ctx context.Context, member string) (*mutualaid.ListReply, error) {
	var out mutualaid.ListReply
	return &out, a.ask(ctx, mutualaid.QuerySubject(member, mutualaid.OpList), mutualaid.ListQuery{}, &out)
}

// Show implements Aid.
func (a NATSAid) Show(ctx context.Context, member, id string) (*mutualaid.ShowReply, error) {
	var out mutualaid.ShowReply
	return &out, a.ask(ctx, mutualaid.QuerySubject(member, mutualaid.OpShow), mutualaid.ShowQuery{ID: id}, &out)
}

// Board implements Aid.
func (a NATSAid) Board(ctx context.Context, member, region string) (*mutualaid.Board, error) {
	var out mutualaid.Board
	return &out, a.ask(ctx, mutualaid.SituationSubject(member), mutualaid.SituationQuery{Region: region}, &out)
}
