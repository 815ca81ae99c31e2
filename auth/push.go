package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// claimsUpdateSubject is where a system-account user pushes account JWTs;
// every node with a full resolver answers.
const claimsUpdateSubject = "$SYS.REQ.CLAIMS.UPDATE"

// pushQuiet is how long PushAccount waits after the last node's answer for
// another one: nodes of one cluster answer within milliseconds of each other.
const pushQuiet = 300 * time.Millisecond

// claimUpdateResponse is a node's answer to a claims update.
type claimUpdateResponse struct {
	Server struct {
		Name string `json:"name"`
	} `json:"server"`
	Data *struct {
		Account string `json:"account"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"data"`
	Error *struct {
		Account     string `json:"account"`
		Code        int    `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
}

// PushAccount sends accountJWT to every node of the cluster over nc, which
// must be a system-account connection (IssueSystemUser). Every node that
// answers stores the JWT and applies it at once: connections the new claims
// no longer allow are closed. It collects answers until none came for a
// moment or ctx ends, and fails if no node answered or any refused.
func PushAccount(ctx context.Context, nc *nats.Conn, accountJWT string) error {
	_, err := PushAccountNodes(ctx, nc, accountJWT, 0)
	return err
}

// PushAccountNodes is PushAccount that returns the names of the nodes that
// stored the JWT, returning as soon as want nodes did (0: after a quiet
// moment, as PushAccount).
func PushAccountNodes(ctx context.Context, nc *nats.Conn, accountJWT string, want int) ([]string, error) {
	ac, err := jwt.DecodeAccountClaims(accountJWT)
	if err != nil {
		return nil, fmt.Errorf("%w: not an account jwt: %v", ErrPush, err)
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("%w: subscribe %s: %v", ErrPush, inbox, err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(claimsUpdateSubject, inbox, []byte(accountJWT)); err != nil {
		return nil, fmt.Errorf("%w: publish: %v", ErrPush, err)
	}
	var stored, refused []string
	for want == 0 || len(stored)+len(refused) < want {
		answered := len(stored)+len(refused) > 0
		msg, err := nextMsg(ctx, sub, answered && want == 0)
		if err != nil {
			if ctx.Err() == nil && answered {
				break // quiet: every node answered
			}
			return stored, fmt.Errorf("%w: account %s: %d node(s) stored it (%s) before: %v; is this a system-account connection, and is every node up?",
				ErrPush, ac.Name, len(stored), strings.Join(stored, ", "), err)
		}
		var r claimUpdateResponse
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			return stored, fmt.Errorf("%w: unreadable answer %q: %v", ErrPush, msg.Data, err)
		}
		if r.Error != nil {
			refused = append(refused, fmt.Sprintf("%s: %s", r.Server.Name, r.Error.Description))
			continue
		}
		stored = append(stored, r.Server.Name)
	}
	if len(refused) > 0 {
		return stored, fmt.Errorf("%w: account %s refused by %s", ErrPush, ac.Name, strings.Join(refused, "; "))
	}
	return stored, nil
}

// nextMsg waits for the next answer until ctx ends or, when quiet is set,
// for at most pushQuiet.
func nextMsg(ctx context.Context, sub *nats.Subscription, quiet bool) (*nats.Msg, error) {
	if quiet {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pushQuiet)
		defer cancel()
	}
	return sub.NextMsgWithContext(ctx)
}
