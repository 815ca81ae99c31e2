package mutualaid

import (
	"context"
	"errors"
	"fmt"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// accept books the offer's units against the request's remaining need and
// the responder's free capacity. The request and the responder's record
// change together in one atomic batch, each write conditional on the
// revision read: of two nodes accepting at the same moment one wins, and
// the other reads again and finds the need filled or the capacity gone.
func (s *Service) accept(ctx context.Context, in *incoming, p *tocsinv1.AidDecision, r *Request, rev uint64) (*effect, error) {
	if _, err := requestStep(r.ID, r.State, ActAccept); err != nil {
		return nil, reject{err}
	}
	o := r.offer(p.GetOfferId())
	to, err := offerStep(o.ID, o.State, ActAccept)
	if err != nil {
		return nil, reject{err}
	}
	qty := p.GetQuantity()
	if qty == 0 {
		qty = o.Quantity
	}
	if qty > o.Quantity {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "offer %s is of %d %s; accept at most %d", o.ID, o.Quantity, o.Capability, o.Quantity)
	}
	n := r.need(o.Capability)
	if qty > n.Quantity-n.Accepted {
		hint := "decline it"
		if left := n.Quantity - n.Accepted; left > 0 {
			hint = fmt.Sprintf("accept part of it with --qty %d", left)
		}
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_OVER_FILL, "request %s needs %s, and offer %s would add %d: %s",
			r.ID, requiredUnits(n), o.ID, qty, hint)
	}
	rec, rrev, c, err := s.capacity(ctx, o)
	if err != nil {
		return nil, err
	}
	if qty > c.Free {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NO_CAPACITY, "%s has %d of %d %s units free (capability %s); its capacity is booked elsewhere: accept less with --qty, or another offer",
			o.Responder, c.Free, c.Capacity, c.Type, c.ID)
	}
	if rec.Bookings == nil {
		rec.Bookings = map[string]Booking{}
	}
	rec.Bookings[o.ID] = Booking{Capability: c.ID, Request: r.ID, Units: qty}
	o.State, o.Accepted = to, qty
	n.Accepted += qty
	r.State = r.fillState()
	return s.record(ctx, in, p, r, ActAccept, o, write{requestKey(r.ID), r, rev}, write{responderKey(o.Responder), rec, rrev})
}

// demobilise ends an accepted offer and frees its booked units, in one
// atomic batch with the request.
func (s *Service) demobilise(ctx context.Context, in *incoming, p *tocsinv1.AidDecision, r *Request, rev uint64) (*effect, error) {
	o := r.offer(p.GetOfferId())
	to, err := offerStep(o.ID, o.State, ActDemobilise)
	if err != nil {
		return nil, reject{err}
	}
	o.State = to
	writes := []write{{requestKey(r.ID), r, rev}}
	rec, rrev, err := load[responderRecord](ctx, s, responderKey(o.Responder))
	if err != nil {
		return nil, err
	}
	if _, booked := rec.bookings()[o.ID]; booked {
		delete(rec.Bookings, o.ID)
		writes = append(writes, write{responderKey(o.Responder), rec, rrev})
	}
	return s.record(ctx, in, p, r, ActDemobilise, o, writes...)
}

// capacity reads the offer's responder record (a fresh one when it has
// none) and the capability the offer draws on, as it stands now.
func (s *Service) capacity(ctx context.Context, o *Offer) (*responderRecord, uint64, *Capability, error) {
	m, err := s.d.Registry.Member(ctx, o.Responder)
	if errors.Is(err, members.ErrNotFound) || (err == nil && m.GetRevokedAt() != nil) {
		return nil, 0, nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "responder %s is no longer a member; its offer %s cannot be accepted", o.Responder, o.ID)
	}
	if err != nil {
		return nil, 0, nil, err
	}
	rec, rev, err := load[responderRecord](ctx, s, responderKey(o.Responder))
	if err != nil {
		return nil, 0, nil, err
	}
	if rec == nil {
		rec = &responderRecord{Responder: o.Responder}
	}
	for _, c := range effective(m, rec) {
		if c.ID == o.CapabilityID && c.State == CapabilityActive {
			return rec, rev, c, nil
		}
	}
	return nil, 0, nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NO_CAPACITY, "%s no longer offers capability %s; ask it for a new offer", o.Responder, o.CapabilityID)
}

// bookings returns rec's bookings; nil-safe.
func (rec *responderRecord) bookings() map[string]Booking {
	if rec == nil {
		return nil
	}
	return rec.Bookings
}
