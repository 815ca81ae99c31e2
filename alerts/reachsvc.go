package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/kvread"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// reachQueue is the queue group every node's router answers reach
// requests in: each request is answered once.
const reachQueue = "tocsin-router-reach"

// reachTimeout bounds the reads of one reach request.
const reachTimeout = 10 * time.Second

// serveReach answers senders' reach requests (records.FetchReach) until
// the returned function is called. At most 16 are handled at once. A
// region's router (Options.Region) also answers its region's
// ("tocsin.r.<region>.svc.reach.<sender>"): a member homed there asks on
// its usual subject, which its account imports from its home region's
// (auth), where its messages were routed and their receipts filed.
func (r *Router) serveReach(ctx context.Context) (stop func(), err error) {
	slots := make(chan struct{}, 16)
	handle := func(m *nats.Msg) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		go func() {
			defer func() { <-slots }()
			r.answerReach(ctx, m)
		}()
	}
	var subs []*nats.Subscription
	stop = func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, subject := range slices.Compact([]string{subjects.SvcReachPrefix + "*", r.in(subjects.SvcReachPrefix + "*")}) {
		sub, err := r.d.JS.Conn().QueueSubscribe(subject, reachQueue, handle)
		if err != nil {
			stop()
			return nil, fmt.Errorf("alerts: subscribe %s: %w", subject, err)
		}
		subs = append(subs, sub)
	}
	return stop, nil
}

// answerReach gives the asker the receipts of one of its own routed
// messages. The subject's member token is pinned by the asker's
// permissions; the message must be routed under that member's own
// outcome key (ROUTED "<asker>.<id>"), so no member reads the receipts of
// another's message.
func (r *Router) answerReach(ctx context.Context, m *nats.Msg) {
	asker := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	refuse := func(reason string) {
		r.log.Info("reach request refused", zap.String("asker", asker), zap.String("reason", reason))
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set(records.HeaderError, reason)
		_ = m.RespondMsg(reply)
	}
	var req records.ReachRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || !envelope.ValidID(req.ID) || len(req.Members) > records.MaxReachAsked {
		refuse(fmt.Sprintf("the request is not JSON {\"id\": message id, \"members\": [up to %d member ids]}", records.MaxReachAsked))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	o, err := r.Outcome(ctx, asker, req.ID)
	switch {
	case err != nil:
		refuse("the router's records cannot be read right now; try again")
		return
	case o == nil:
		refuse(fmt.Sprintf("%s sent no message %s; reach shows only the messages you sent", asker, req.ID))
		return
	case o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED:
		refuse(fmt.Sprintf("message %s was %s, not routed: it reached no one", req.ID, o.GetState()))
		return
	}
	rep := records.ReachReply{Receipts: []records.Reach{}}
	got, err := r.reachOf(ctx, asker, req.ID)
	if err != nil {
		refuse("the receipts cannot be read right now; try again")
		return
	}
	for _, id := range req.Members {
		if rec, ok := got[id]; ok {
			rep.Receipts = append(rep.Receipts, rec)
		}
	}
	if m, err := r.d.Registry.Member(ctx, asker); err == nil && members.HasRole(m, tocsinv1.Role_ROLE_LIAISON) {
		if rep.Affected, err = records.ReadAffected(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), asker, req.ID); err != nil {
			refuse("the affected totals cannot be read right now; try again")
			return
		}
	}
	data, _ := json.Marshal(rep)
	_ = m.Respond(data)
}

// reachOf reads every REACH set of sender's message id and returns each
// member's receipts, merged over the sets it is in.
func (r *Router) reachOf(ctx context.Context, sender, id string) (map[string]records.Reach, error) {
	entries, err := kvread.LastOf(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), r.bucket(records.BucketReach), records.ReachMessagePattern(sender, id))
	if err != nil {
		return nil, err
	}
	out := map[string]records.Reach{}
	for _, e := range entries {
		var set records.ReachSet
		if json.Unmarshal(e.Value, &set) != nil {
			continue
		}
		records.AddReachSet(out, &set)
	}
	return out, nil
}
