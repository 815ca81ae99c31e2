package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/subjects"
)

// The receipts of a sender's own message: a request on
// subjects.SvcReach(<sender>) names the message and at most MaxReachAsked
// members; the router answers with the REACH records of those that have
// sent a receipt, or with HeaderError when the message is not the asker's
// own routed message (the subject's member token is pinned by the asker's
// permissions). A sender reads the reach of what it sent, and nothing of
// anyone else's.
const MaxReachAsked = 1000

// ReachRequest names a message of the asker's and the members whose
// receipts are asked for.
type ReachRequest struct {
	ID      string   `json:"id"`
	Members []string `json:"members"`
}

// ReachReply holds the receipts found; a member without one is left out.
type ReachReply struct {
	Receipts []Reach `json:"receipts"`
	// Affected are, for a liaison's CSAF advisory only, the members per
	// sector whose receipt said they run an affected product, floored
	// (AffectedTotal): never who. Empty for anyone else and any other
	// message.
	Affected []AffectedTotal `json:"affected,omitempty"`
}

// ErrReachRefused is wrapped when the router refuses a reach request: the
// message is not the asker's own routed message.
var ErrReachRefused = errors.New("reach refused")

// FetchReach asks, as sender (the connection's member), for the receipts
// of its message id from members, MaxReachAsked at a time.
func FetchReach(ctx context.Context, nc *nats.Conn, sender, id string, members []string) (map[string]Reach, error) {
	out, _, err := FetchReachAffected(ctx, nc, sender, id, members)
	return out, err
}

// FetchReachAffected is FetchReach with the affected totals of a liaison's
// CSAF advisory (ReachReply.Affected).
func FetchReachAffected(ctx context.Context, nc *nats.Conn, sender, id string, members []string) (map[string]Reach, []AffectedTotal, error) {
	out := map[string]Reach{}
	var affected []AffectedTotal
	for first := true; first || len(members) > 0; first = false {
		n := min(len(members), MaxReachAsked)
		req, _ := json.Marshal(ReachRequest{ID: id, Members: members[:n]})
		members = members[n:]
		msg, err := nc.RequestWithContext(ctx, subjects.SvcReach(sender), req)
		if err != nil {
			return nil, nil, fmt.Errorf("request %s: %w", subjects.SvcReach(sender), err)
		}
		if reason := msg.Header.Get(HeaderError); reason != "" {
			return nil, nil, fmt.Errorf("%w: %s", ErrReachRefused, reason)
		}
		var rep ReachReply
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			return nil, nil, fmt.Errorf("the reach answer is not JSON: %w", err)
		}
		affected = rep.Affected
		for _, r := range rep.Receipts {
			out[r.Member] = r
		}
	}
	return out, affected, nil
}
