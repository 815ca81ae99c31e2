package mutualaid

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// onDecision moves a request or one of its offers a step on.
func (s *Service) onDecision(ctx context.Context, in *incoming, p *tocsinv1.AidDecision) (*effect, error) {
	a, ok := actionOf[p.GetAction()]
	if !ok {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD,
			"action %v is not a lifecycle step; use accept, decline, withdraw, mobilise, arrive, demobilise, close or cancel", p.GetAction())
	}
	if a == ActExpire && !members.HasRole(in.member, tocsinv1.Role_ROLE_SERVICE) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "only the aid service expires requests; close or cancel yours instead")
	}
	reqID, offerID := p.GetRequestId(), p.GetOfferId()
	if offerLevel[a] {
		var err error
		if reqID, err = s.requestOfOffer(ctx, offerID, reqID, a); err != nil {
			return nil, err
		}
	}
	if !envelope.ValidID(reqID) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a %s names the request (request_id)", a)
	}
	return retryConflicts(ctx, string(a)+" "+in.env.GetId(), func() (*effect, error) {
		r, rev, err := s.visibleRequest(ctx, in.member, reqID)
		if err != nil {
			return nil, err
		}
		if ev := r.event(in.env.GetId()); ev != nil {
			if ev.By != in.env.GetSender() {
				return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_REPLAY, "id %s is already used by another step of request %s; publish with a fresh id", ev.ID, r.ID)
			}
			return stepEffect(r, a, in.env.GetId(), offerID), nil // a redelivery
		}
		if err := mayDo(in.member, r, a, offerID); err != nil {
			return nil, err
		}
		switch {
		case a == ActAccept:
			return s.accept(ctx, in, p, r, rev)
		case a == ActDemobilise:
			return s.demobilise(ctx, in, p, r, rev)
		case a == ActExpire:
			return s.expire(ctx, in, r, rev)
		case offerLevel[a]:
			o := r.offer(offerID)
			to, err := offerStep(o.ID, o.State, a)
			if err != nil {
				return nil, reject{err}
			}
			o.State = to
			return s.record(ctx, in, p, r, a, o, write{requestKey(r.ID), r, rev})
		default: // close, cancel
			to, err := requestStep(r.ID, r.State, a)
			if err != nil {
				return nil, reject{err}
			}
			writes, err := s.end(ctx, r, rev, to)
			if err != nil {
				return nil, err
			}
			return s.record(ctx, in, p, r, a, nil, writes...)
		}
	})
}

// record appends the step to r's timeline and commits the writes, r's
// first among them.
func (s *Service) record(ctx context.Context, in *incoming, p *tocsinv1.AidDecision, r *Request, a Action, o *Offer, writes ...write) (*effect, error) {
	ev := in.event(a)
	ev.State, ev.Note = string(r.State), p.GetNote()
	offerID := ""
	if o != nil {
		offerID = o.ID
		ev.Offer, ev.State, ev.Quantity = o.ID, string(o.State), o.Accepted
	}
	r.Timeline = append(r.Timeline, ev)
	if err := s.commit(ctx, writes...); err != nil {
		return nil, err
	}
	return stepEffect(r, a, in.env.GetId(), offerID), nil
}

// mayDo checks that m may take step a: the requester decides on offers
// and ends the request; an offer's responder moves its own offer.
func mayDo(m *tocsinv1.Member, r *Request, a Action, offerID string) error {
	var o *Offer
	if offerLevel[a] {
		if o = r.offer(offerID); o == nil {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "request %s has no offer %s that you may see", r.ID, offerID)
		}
	}
	switch a {
	case ActAccept, ActDecline, ActClose, ActCancel:
		if m.GetId() != r.Requester {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "only the requester %s may %s on request %s; %s may not", r.Requester, a, r.ID, m.GetId())
		}
	case ActWithdraw, ActMobilise, ActArrive, ActDemobilise:
		if m.GetId() != o.Responder {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "only the responder %s may %s offer %s; %s may not", o.Responder, a, o.ID, m.GetId())
		}
	}
	return nil
}

// requestOfOffer returns the request an offer answers (from the offer
// index), checking it against the request the decision names, if any.
func (s *Service) requestOfOffer(ctx context.Context, offerID, named string, a Action) (string, error) {
	if !envelope.ValidID(offerID) {
		return "", refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a %s names the offer (offer_id)", a)
	}
	data, _, err := s.latest(ctx, offerKey(offerID))
	if err != nil {
		return "", err
	}
	var reqID string
	if data != nil {
		if err := json.Unmarshal(data, &reqID); err != nil {
			return "", fmt.Errorf("offer index %s is corrupt: %w", offerID, err)
		}
	}
	if reqID == "" || (named != "" && named != reqID) {
		return "", refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "no offer %s that you may see; check the id with 'tocsin aid show'", offerID)
	}
	return reqID, nil
}

// visibleRequest reads request id from the leader. A request that does
// not exist and one m may not see get the same answer, so that no one
// learns of a request not meant for them.
func (s *Service) visibleRequest(ctx context.Context, m *tocsinv1.Member, id string) (*Request, uint64, error) {
	r, rev, err := load[Request](ctx, s, requestKey(id))
	if err != nil {
		return nil, 0, err
	}
	if r == nil || !r.visibleTo(m) {
		return nil, 0, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "no request %s that you may see; check the id with 'tocsin aid list'", id)
	}
	return r, rev, nil
}

// expire ends a request past its expiry. The service sends it from every
// node; one that finds the request already ended does nothing.
func (s *Service) expire(ctx context.Context, in *incoming, r *Request, rev uint64) (*effect, error) {
	if !r.State.needsHelp() {
		return &effect{request: r.ID, action: ActExpire}, nil
	}
	if in.env.GetTime().AsTime().Before(r.ExpiresAt) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "request %s expires at %s, not yet", r.ID, r.ExpiresAt.Format(time.RFC3339))
	}
	writes, err := s.end(ctx, r, rev, RequestExpired)
	if err != nil {
		return nil, err
	}
	return s.record(ctx, in, &tocsinv1.AidDecision{Note: "expired at " + r.ExpiresAt.Format(time.RFC3339)}, r, ActExpire, nil, writes...)
}

// requiredUnits says how many units are still needed, for messages.
func requiredUnits(n *Need) string {
	if n.Accepted >= n.Quantity {
		return "no more " + n.Capability
	}
	return fmt.Sprintf("%d more %s", n.Quantity-n.Accepted, n.Capability)
}
