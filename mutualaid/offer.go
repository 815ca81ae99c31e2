package mutualaid

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// onOffer adds a responder's offer to a request it may see, drawing on one
// of its active capabilities with enough free units. Nothing is booked
// until the requester accepts.
func (s *Service) onOffer(ctx context.Context, in *incoming, p *tocsinv1.AidOffer) (*effect, error) {
	if !members.HasRole(in.member, tocsinv1.Role_ROLE_RESPONDER) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "only responders make offers; %s is not a responder", in.member.GetId())
	}
	reqID := p.GetRequestId()
	if !envelope.ValidID(reqID) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "an offer names the request it answers (request_id)")
	}
	if err := s.indexOffer(ctx, in.env.GetId(), reqID); err != nil {
		return nil, err
	}
	return retryConflicts(ctx, "offer "+in.env.GetId(), func() (*effect, error) {
		r, rev, err := s.visibleRequest(ctx, in.member, reqID)
		if err != nil {
			return nil, err
		}
		if r.offer(in.env.GetId()) != nil {
			return stepEffect(r, ActOffer, in.env.GetId(), in.env.GetId()), nil // a redelivery
		}
		if _, err := requestStep(r.ID, r.State, ActOffer); err != nil {
			return nil, reject{err}
		}
		o, err := s.newOffer(ctx, in, p, r)
		if err != nil {
			return nil, err
		}
		r.Offers = append(r.Offers, o)
		ev := in.event(ActOffer)
		ev.Offer, ev.Quantity, ev.State, ev.Note = o.ID, o.Quantity, string(o.State), o.Note
		r.Timeline = append(r.Timeline, ev)
		if err := s.commit(ctx, write{requestKey(r.ID), r, rev}); err != nil {
			return nil, err
		}
		return stepEffect(r, ActOffer, o.ID, o.ID), nil
	})
}

// newOffer validates p against the responder's capabilities.
func (s *Service) newOffer(ctx context.Context, in *incoming, p *tocsinv1.AidOffer, r *Request) (*Offer, error) {
	rec, _, err := load[responderRecord](ctx, s, responderKey(in.member.GetId()))
	if err != nil {
		return nil, err
	}
	caps := effective(in.member, rec)
	c := pickCapability(caps, p.GetCapability())
	if c == nil {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "%s has no active capability %q; see 'tocsin aid capability list' (types or ids: %s)",
			in.member.GetId(), p.GetCapability(), capabilityNames(caps))
	}
	if r.need(c.Type) == nil {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "request %s does not need %s; it needs %s", r.ID, c.Type, strings.Join(r.needTypes(), ", "))
	}
	if !c.serves(r.Region) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "capability %s serves %s, not the request's region %s",
			c.ID, strings.Join(c.Regions, ", "), r.Region)
	}
	if p.GetQuantity() < 1 {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "an offer is of at least 1 unit (quantity)")
	}
	if p.GetQuantity() > c.Free {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NO_CAPACITY, "capability %s has %d of %d units free; offer at most %d",
			c.ID, c.Free, c.Capacity, c.Free)
	}
	eta := c.LeadTime
	if p.GetEta() != nil {
		eta = Duration(p.GetEta().AsDuration())
	}
	if eta < 0 {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "eta %s is negative", time.Duration(eta))
	}
	return &Offer{
		ID: in.env.GetId(), State: OfferOffered, RequestID: r.ID, Responder: in.member.GetId(), Capability: c.Type,
		CapabilityID: c.ID, Quantity: p.GetQuantity(), ETA: eta, Contact: c.Contact, Note: p.GetNote(),
		CreatedAt: in.env.GetTime().AsTime().UTC(),
	}, nil
}

// indexOffer records which request an offer answers, once; an offer id
// already used for another request is refused.
func (s *Service) indexOffer(ctx context.Context, offerID, reqID string) error {
	for range maxAttempts {
		data, _, err := s.latest(ctx, offerKey(offerID))
		if err != nil {
			return err
		}
		if data != nil {
			if string(data) != `"`+reqID+`"` {
				return refuse(tocsinv1.RejectionCode_REJECTION_CODE_REPLAY, "offer id %s is already used by another offer; publish with a fresh id", offerID)
			}
			return nil
		}
		if err := s.commit(ctx, write{offerKey(offerID), reqID, 0}); err == nil || !errors.Is(err, errConflict) {
			return err
		}
	}
	return errConflict
}

// capabilityNames lists the active capabilities' types and ids.
func capabilityNames(caps []*Capability) string {
	var names []string
	for _, c := range caps {
		if c.State == CapabilityActive {
			names = append(names, c.Type+" ("+c.ID+")")
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
