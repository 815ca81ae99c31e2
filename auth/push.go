package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// claimsUpdateSubject is where a system-account user pushes account JWTs;
// every node with a full resolver answers.
const claimsUpdateSubject = "$SYS.REQ.CLAIMS.UPDATE"

// pushQuiet is how long PushAccount waits after the last node's answer for
// another one when it could not learn how many nodes there are: nodes of
// one cluster answer within milliseconds of each other.
const pushQuiet = 300 * time.Millisecond

// pushStragglers is how long a push that knows how many nodes there are
// (activeServers) waits after the last answer for the rest: a node killed
// a moment ago is still counted for up to 150 s, and a loaded node may
// answer seconds late, so the push settles for the nodes that answered
// only after this long a silence.
const pushStragglers = 5 * time.Second

// statszPingSubject asks every node for its statistics; each answers with
// how many servers it knows of (itself included).
const statszPingSubject = "$SYS.REQ.SERVER.PING.STATZ"

// activeServers asks the cluster over nc (a system-account connection)
// how many nodes it has: the first node's count of the servers it hears
// (across gateways too). 0 when no node says.
func activeServers(ctx context.Context, nc *nats.Conn) int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, statszPingSubject, nil)
	if err != nil {
		return 0
	}
	var r struct {
		Statsz struct {
			ActiveServers int `json:"active_servers"`
		} `json:"statsz"`
	}
	if json.Unmarshal(msg.Data, &r) != nil {
		return 0
	}
	return r.Statsz.ActiveServers
}

// pushTarget is how many nodes a push with want waits for, and how long
// a silence it then settles after (0: never, want was the caller's).
func pushTarget(ctx context.Context, nc *nats.Conn, want int) (int, time.Duration) {
	if want > 0 {
		return want, 0
	}
	if n := activeServers(ctx, nc); n > 0 {
		return n, pushStragglers
	}
	return 0, pushQuiet
}

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
// stored the JWT, returning as soon as want nodes did (0: as many as the
// cluster says it has, or those that answered before a silence of
// pushStragglers; pushQuiet when the cluster does not say).
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
	want, settle := pushTarget(ctx, nc, want)
	var stored, refused []string
	for want == 0 || len(stored)+len(refused) < want {
		answered := len(stored)+len(refused) > 0
		quiet := time.Duration(0)
		if answered {
			quiet = settle
		}
		msg, err := nextMsg(ctx, sub, quiet)
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
// for at most quiet.
func nextMsg(ctx context.Context, sub *nats.Subscription, quiet time.Duration) (*nats.Msg, error) {
	if quiet > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, quiet)
		defer cancel()
	}
	return sub.NextMsgWithContext(ctx)
}

// pushResend is how long a silence PushAccounts waits before it sends
// again the JWTs not yet stored by every node.
const pushResend = 3 * time.Second

// pushWindow is how many account JWTs PushAccounts has in flight at once:
// enough to hide the round trips, few enough that a node's system account
// queue is never flooded.
const pushWindow = 256

// PushAccounts sends every JWT of accountJWTs to every node of the cluster
// over nc (a system-account connection, as PushAccount), many at a time
// instead of one round trip each. It returns once each JWT was stored by
// want nodes (0: by as many as the cluster says it has, or, after a
// silence of pushStragglers, by as many as stored the most-answered one),
// and the names of the nodes that stored them all. It fails on
// the first refusal or when ctx ends first, naming the accounts not yet
// stored; what was stored stays stored, so pushing again is safe.
func PushAccounts(ctx context.Context, nc *nats.Conn, accountJWTs []string, want int) ([]string, error) {
	if len(accountJWTs) == 0 {
		return nil, nil
	}
	names := make([]string, len(accountJWTs))
	for i, j := range accountJWTs {
		ac, err := jwt.DecodeAccountClaims(j)
		if err != nil {
			return nil, fmt.Errorf("%w: jwt %d is not an account jwt: %v", ErrPush, i, err)
		}
		names[i] = ac.Name
	}
	inbox := nc.NewInbox()
	// Room for every node's answer to every push in flight (a cluster of
	// up to 8 nodes), so none is dropped as a slow consumer's.
	answers := make(chan *nats.Msg, 8*pushWindow)
	sub, err := nc.ChanSubscribe(inbox+".*", answers)
	if err != nil {
		return nil, fmt.Errorf("%w: subscribe %s: %v", ErrPush, inbox, err)
	}
	defer sub.Unsubscribe()
	want, settle := pushTarget(ctx, nc, want)
	stored := make([]map[string]bool, len(accountJWTs))
	done, sent := 0, 0
	isDone := func(i int) bool { return want > 0 && len(stored[i]) >= want }
	var quiet <-chan time.Time
	publish := func(i int) error {
		if err := nc.PublishRequest(claimsUpdateSubject, fmt.Sprintf("%s.%d", inbox, i), []byte(accountJWTs[i])); err != nil {
			return fmt.Errorf("%w: publish: %v", ErrPush, err)
		}
		return nil
	}
	// An update or its answer can be lost on a loaded node (seen: a node
	// never answered the last 5 of 2,000): after a silence of pushResend
	// the JWTs still in flight are sent again; storing one twice is
	// harmless, and an answer counts once per node.
	resend := time.NewTicker(pushResend)
	defer resend.Stop()
	for done < len(accountJWTs) {
		for sent < len(accountJWTs) && sent-done < pushWindow {
			if err := publish(sent); err != nil {
				return nil, err
			}
			stored[sent] = map[string]bool{}
			sent++
		}
		select {
		case <-resend.C:
			for i := range sent {
				if !isDone(i) {
					if err := publish(i); err != nil {
						return nil, err
					}
				}
			}
		case msg := <-answers:
			i, err := strconv.Atoi(msg.Subject[len(inbox)+1:])
			if err != nil || i < 0 || i >= sent {
				continue
			}
			var r claimUpdateResponse
			if err := json.Unmarshal(msg.Data, &r); err != nil {
				return nil, fmt.Errorf("%w: unreadable answer %q: %v", ErrPush, msg.Data, err)
			}
			if r.Error != nil {
				return nil, fmt.Errorf("%w: account %s refused by %s: %s", ErrPush, names[i], r.Server.Name, r.Error.Description)
			}
			if stored[i][r.Server.Name] {
				continue // an answer to a resend: no news
			}
			resend.Reset(pushResend)
			was := isDone(i)
			stored[i][r.Server.Name] = true
			if !was && isDone(i) {
				done++
			}
			if settle > 0 {
				quiet = time.After(settle)
			}
		case <-quiet:
			// Every node that is up has answered by now: each JWT is done
			// when as many nodes stored it as stored the most-answered one.
			want = 0
			for _, s := range stored[:sent] {
				want = max(want, len(s))
			}
			done = 0
			for i := range sent {
				if isDone(i) {
					done++
				}
			}
			if done < sent {
				quiet = time.After(settle)
			}
		case <-ctx.Done():
			var missing []string
			for i := range accountJWTs {
				if i >= sent || !isDone(i) {
					missing = append(missing, names[i])
				}
			}
			return nil, fmt.Errorf("%w: %d of %d accounts not stored by every node (%s) before: %v; is this a system-account connection, and is every node up?",
				ErrPush, len(missing), len(accountJWTs), abbreviate(missing, 5), ctx.Err())
		}
	}
	var nodes []string
	for n := range stored[len(stored)-1] {
		if !slices.ContainsFunc(stored, func(s map[string]bool) bool { return !s[n] }) {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	return nodes, nil
}

// abbreviate joins the first n of names and says how many more there are.
func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
