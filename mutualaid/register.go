package mutualaid

import (
	"context"
	"slices"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// onCapability applies a responder's registration: a new package, an
// update of one (its registry package or an earlier registration, by id),
// or a removal. Registrations are updates over the registry's record:
// the registry seed gives each responder its base packages, and what the
// responder registers since replaces them by id, adds to them or hides
// them. Bookings are kept through every change.
func (s *Service) onCapability(ctx context.Context, in *incoming, p *tocsinv1.AidCapability) (*effect, error) {
	m := in.member
	if !members.HasRole(m, tocsinv1.Role_ROLE_RESPONDER) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "only responders register capabilities; %s is not a responder", m.GetId())
	}
	c := capabilityFrom(m.GetId(), p, SourceRegistration)
	if c.ID == "" {
		c.ID = m.GetId() + "/" + c.Type
	}
	c.UpdatedAt, c.Event = in.env.GetTime().AsTime().UTC(), in.env.GetId()
	if err := s.checkCapability(m, c); err != nil {
		return nil, err
	}
	eff := &effect{action: ActCapability, audit: CapabilityAudit(m.GetId(), in.env.GetId())}
	return retryConflicts(ctx, "capability "+c.ID, func() (*effect, error) {
		rec, rev, err := load[responderRecord](ctx, s, responderKey(m.GetId()))
		if err != nil {
			return nil, err
		}
		if rec == nil {
			rec = &responderRecord{Responder: m.GetId()}
		}
		if old := rec.Registrations[c.ID]; old != nil && (old.Event == c.Event || old.UpdatedAt.After(c.UpdatedAt)) {
			return eff, nil // a redelivery, or older than what is registered
		}
		reg := c
		if c.State == CapabilityRemoved {
			caps := effective(m, rec)
			i := slices.IndexFunc(caps, func(x *Capability) bool { return x.ID == c.ID && x.State == CapabilityActive })
			if i < 0 {
				return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "%s has no capability %s to remove; see 'tocsin aid capability list'", m.GetId(), c.ID)
			}
			gone := *caps[i] // keep what it was, marked removed
			gone.State, gone.Source, gone.UpdatedAt, gone.Event, gone.Booked, gone.Free = CapabilityRemoved, SourceRegistration, c.UpdatedAt, c.Event, 0, 0
			reg = &gone
		}
		if rec.Registrations == nil {
			rec.Registrations = map[string]*Capability{}
		}
		rec.Registrations[c.ID] = reg
		if err := s.commit(ctx, write{responderKey(m.GetId()), rec, rev}); err != nil {
			return nil, err
		}
		return eff, nil
	})
}

// checkCapability validates a registration.
func (s *Service) checkCapability(m *tocsinv1.Member, c *Capability) error {
	switch {
	case !validCapabilityID(c.ID):
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "capability id %q is not tokens joined by \"/\", such as %q", c.ID, m.GetId()+"/incident-response")
	case !ownsCapabilityID(m, c.ID):
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "capability ids of %s start with %q; %q is not yours", m.GetId(), m.GetId()+"/", c.ID)
	case c.State == CapabilityRemoved:
		return nil
	case !s.capTypes[c.Type]:
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "capability %s: %v", c.ID, s.opts.Vocabulary.CheckCapability(c.Type))
	case c.Capacity < 1:
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "capability %s: capacity must be at least 1 (units available at once)", c.ID)
	case c.LeadTime < 0:
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "capability %s: lead time must not be negative", c.ID)
	}
	for _, r := range c.Regions {
		if !envelope.ValidMemberID(r) {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "capability %s: %q is not a region (lowercase letters, digits, dashes)", c.ID, r)
		}
	}
	return nil
}
