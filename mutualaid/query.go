package mutualaid

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// queryGroup is the queue group every node's service answers read
// requests in, so each is answered once.
const queryGroup = "aid"

// queryTimeout bounds the answer to one read request.
const queryTimeout = 10 * time.Second

// serveQueries subscribes to the read path and answers with QueryWorkers
// goroutines until ctx ends. When it ends the subscriptions are drained
// first, so the server sends the queue group's next requests to the other
// nodes, and the workers answer what this node already took before they
// leave: a request is never dropped by a node that is stopping.
func (s *Service) serveQueries(ctx context.Context, wg *sync.WaitGroup) error {
	nc := s.d.JS.Conn()
	ch := make(chan *nats.Msg, 256)
	var subs []*nats.Subscription
	for _, subject := range []string{QueryAll, SituationAll} {
		sub, err := nc.ChanQueueSubscribe(subject, queryGroup, ch)
		if err != nil {
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return err
		}
		subs = append(subs, sub)
	}
	drained := make(chan struct{})
	wg.Go(func() {
		defer close(drained)
		<-ctx.Done()
		closed := make([]<-chan nats.SubStatus, len(subs))
		for i, sub := range subs {
			closed[i] = sub.StatusChanged(nats.SubscriptionClosed)
			if err := sub.Drain(); err != nil {
				_ = sub.Unsubscribe()
			}
		}
		timeout := time.After(queryTimeout)
		for i, sub := range subs {
			if !sub.IsValid() {
				continue
			}
			select {
			case <-closed[i]:
			case <-timeout:
				return
			}
		}
	})
	// A request taken while stopping is still answered, within its own
	// queryTimeout.
	actx := context.WithoutCancel(ctx)
	for range s.opts.QueryWorkers {
		wg.Go(func() {
			for {
				select {
				case m := <-ch:
					s.answer(actx, m)
				case <-drained:
					for {
						select {
						case m := <-ch:
							s.answer(actx, m)
						default:
							return
						}
					}
				}
			}
		})
	}
	return nil
}

// answer replies to one read request.
func (s *Service) answer(ctx context.Context, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var a answer
	result, err := s.query(ctx, m.Subject, m.Data)
	if err == nil {
		a.Result, err = json.Marshal(result)
	}
	if err != nil {
		var ce *codes.Error
		if !errors.As(err, &ce) {
			s.log.Warn("read request failed", zap.String("subject", m.Subject), zap.Error(err))
			ce = codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED, "the aid service could not answer: %v; try again", err)
		}
		a = answer{Error: &answerError{Code: codes.Name(ce.Code), Message: ce.Msg}}
	}
	data, _ := json.Marshal(a)
	if err := m.Respond(data); err != nil {
		s.log.Debug("reply", zap.Error(err))
	}
}

// query answers a read request as the member the subject names may see.
func (s *Service) query(ctx context.Context, subject string, body []byte) (any, error) {
	id, op, ok := parseQuery(subject)
	if !ok {
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "%s is not a read-path subject", subject)
	}
	m, err := s.d.Registry.Member(ctx, id)
	if errors.Is(err, members.ErrNotFound) || (err == nil && (m.GetRevokedAt() != nil || !hasAnyRole(m, requesters))) {
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "%s may not read mutual-aid state", id)
	}
	if err != nil {
		return nil, err
	}
	decode := func(v any) error {
		if len(body) == 0 {
			return nil
		}
		if err := json.Unmarshal(body, v); err != nil {
			return codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "the %s request does not decode: %v", op, err)
		}
		return nil
	}
	switch op {
	case OpShow:
		var q ShowQuery
		if err := decode(&q); err != nil {
			return nil, err
		}
		return s.show(ctx, m, q.ID)
	case OpList:
		var q ListQuery
		if err := decode(&q); err != nil {
			return nil, err
		}
		return s.list(m, q), nil
	case OpCapabilities:
		var q CapabilitiesQuery
		if err := decode(&q); err != nil {
			return nil, err
		}
		return s.capabilities(ctx, m, q.Responder)
	case "situation":
		var q SituationQuery
		if err := decode(&q); err != nil {
			return nil, err
		}
		return s.board(ctx, m, q.Region)
	}
	return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "unknown operation %q; use show, list or capabilities", op)
}

// show returns a request by its id or an offer's, as m may see it; one
// that does not exist and one m may not see get the same answer.
func (s *Service) show(ctx context.Context, m *tocsinv1.Member, id string) (*ShowReply, error) {
	unknown := codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "no request or offer %s that you may see; check the id with 'tocsin aid list'", id)
	if !envelope.ValidID(id) {
		return nil, unknown
	}
	r, _, err := load[Request](ctx, s, requestKey(id))
	if err != nil {
		return nil, err
	}
	offerID := ""
	if r == nil {
		var reqID string
		if data, _, err := s.latest(ctx, offerKey(id)); err != nil {
			return nil, err
		} else if data == nil || json.Unmarshal(data, &reqID) != nil {
			return nil, unknown
		}
		offerID = id
		if r, _, err = load[Request](ctx, s, requestKey(reqID)); err != nil {
			return nil, err
		}
	}
	var v *Request
	if r != nil {
		v = r.viewFor(m)
	}
	if v == nil {
		return nil, unknown
	}
	reply := &ShowReply{Request: v}
	if offerID != "" {
		if reply.Offer = v.offer(offerID); reply.Offer == nil {
			return nil, unknown
		}
	}
	return reply, nil
}

// list returns the requests m may see, newest first, without timelines.
func (s *Service) list(m *tocsinv1.Member, q ListQuery) *ListReply {
	out := []*Request{}
	s.dir.each(func(r *Request) bool {
		if q.Open && !r.State.needsHelp() {
			return true
		}
		if q.Mine && r.Requester != m.GetId() && !slices.ContainsFunc(r.Offers, func(o *Offer) bool { return o.Responder == m.GetId() }) {
			return true
		}
		if v := r.viewFor(m); v != nil {
			v.Timeline = nil
			out = append(out, v)
		}
		return true
	})
	slices.SortFunc(out, func(a, b *Request) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return &ListReply{Requests: out}
}

// capabilities returns a responder's capabilities as they stand now: m's
// own, or any responder's for the liaison.
func (s *Service) capabilities(ctx context.Context, m *tocsinv1.Member, responder string) (*CapabilitiesReply, error) {
	if responder == "" {
		responder = m.GetId()
	}
	if responder != m.GetId() && !members.HasRole(m, tocsinv1.Role_ROLE_LIAISON) {
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "you may list your own capabilities, not %s's", responder)
	}
	rm, err := s.d.Registry.Member(ctx, responder)
	if errors.Is(err, members.ErrNotFound) {
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "no member %s", responder)
	}
	if err != nil {
		return nil, err
	}
	rec, _, err := load[responderRecord](ctx, s, responderKey(responder))
	if err != nil {
		return nil, err
	}
	return &CapabilitiesReply{Capabilities: effective(rm, rec)}, nil
}
