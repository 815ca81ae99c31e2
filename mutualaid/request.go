package mutualaid

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/tlp"
)

// requesters are the roles that may file a request and read aid state.
var requesters = []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER, tocsinv1.Role_ROLE_LIAISON}

func hasAnyRole(m *tocsinv1.Member, roles []tocsinv1.Role) bool {
	return slices.ContainsFunc(roles, func(r tocsinv1.Role) bool { return members.HasRole(m, r) })
}

// onRequest files a new request: validated, matched against the
// responders' capabilities, stored, then announced to its audience.
func (s *Service) onRequest(ctx context.Context, in *incoming, p *tocsinv1.AidRequest) (*effect, error) {
	if !hasAnyRole(in.member, requesters) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "%s may not file aid requests: it is not a member, responder or liaison", in.member.GetId())
	}
	return retryConflicts(ctx, "request "+in.env.GetId(), func() (*effect, error) {
		old, _, err := load[Request](ctx, s, requestKey(in.env.GetId()))
		if err != nil {
			return nil, err
		}
		if old != nil {
			if old.Requester != in.env.GetSender() {
				return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_REPLAY, "request id %s is already used by another request; publish with a fresh id", in.env.GetId())
			}
			return stepEffect(old, ActRequest, old.ID, ""), nil // already filed: a redelivery
		}
		r, err := s.newRequest(ctx, in, p)
		if err != nil {
			return nil, err
		}
		if err := s.commit(ctx, write{requestKey(r.ID), r, 0}); err != nil {
			return nil, err
		}
		return stepEffect(r, ActRequest, r.ID, ""), nil
	})
}

// stepEffect audits step a of request r, signed as envelope id, and
// tells whom it concerns: a new request its audience; an offer's steps the
// other party of the offer; the end of a request every responder with an
// offer still in play (and the requester, when the service ends it).
func stepEffect(r *Request, a Action, id, offerID string) *effect {
	e := &effect{request: r.ID, action: a, audit: RequestAudit(r.ID, a, id), tlp: r.TLP, lane: r.Urgency, exercise: r.Exercise}
	switch a {
	case ActRequest:
		e.notify = r.Audience
	case ActOffer, ActWithdraw, ActMobilise, ActArrive, ActDemobilise:
		e.notify = []string{r.Requester}
	case ActAccept, ActDecline:
		e.notify = []string{r.offer(offerID).Responder}
	case ActClose, ActCancel, ActExpire:
		e.notify = append(r.endNotified(), r.Requester)
	}
	return e
}

// newRequest validates p and builds the request record, audience included.
func (s *Service) newRequest(ctx context.Context, in *incoming, p *tocsinv1.AidRequest) (*Request, error) {
	at := in.env.GetTime().AsTime().UTC()
	r := &Request{
		ID: in.env.GetId(), State: RequestOpen, Requester: in.member.GetId(), Region: p.GetRegion(),
		Note: p.GetNote(), Exercise: p.GetExercise(), CreatedAt: at, Offers: []*Offer{},
	}
	if err := s.checkNeeds(r, p.GetNeeds()); err != nil {
		return nil, err
	}
	lane := records.LaneName(p.GetUrgency())
	if p.GetUrgency() == tocsinv1.Lane_LANE_UNSPECIFIED || !s.lanes[lane] {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_LANE, "urgency %q is not known; use one of %s", lane, strings.Join(s.opts.Vocabulary.Lanes, ", "))
	}
	r.Urgency = lane
	level, err := tlp.FromProto(p.GetTlp())
	if err != nil {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP, "%v", err)
	}
	r.TLP = level.String()
	if r.To, err = s.checkRecipients(ctx, p.GetTo()); err != nil {
		return nil, err
	}
	if level > tlp.Amber && len(r.To) == 0 {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS,
			"a %s request goes only to the organisations it names: name at least one with --to", level.Label())
	}
	if r.Region == "" {
		r.Region = in.member.GetRegion()
	}
	if !envelope.ValidMemberID(r.Region) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "region %q is not a region token (lowercase letters, digits, dashes); name the region where help is needed", r.Region)
	}
	r.ExpiresAt = at.Add(s.opts.DefaultExpiry)
	if e := p.GetExpiresAt(); e != nil {
		r.ExpiresAt = e.AsTime().UTC()
	}
	if !r.ExpiresAt.After(at) || r.ExpiresAt.Sub(at) > s.opts.MaxExpiry {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "expires_at %s must be after the request's time and at most %s later",
			r.ExpiresAt.Format(time.RFC3339), s.opts.MaxExpiry)
	}
	r.Audience = s.audience(r, level)
	ev := in.event(ActRequest)
	ev.State, ev.Note = string(RequestOpen), r.Note
	r.Timeline = []Event{ev}
	return r, nil
}

// checkNeeds validates the need lines into r.
func (s *Service) checkNeeds(r *Request, needs []*tocsinv1.AidNeed) error {
	if len(needs) == 0 {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a request needs at least one capability line, such as incident-response:2")
	}
	for _, n := range needs {
		if !s.capTypes[n.GetCapability()] {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "need: %v", s.opts.Vocabulary.CheckCapability(n.GetCapability()))
		}
		if n.GetQuantity() < 1 {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "need %s: quantity must be at least 1", n.GetCapability())
		}
		if r.need(n.GetCapability()) != nil {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "need %s is listed twice; list each capability once with its total", n.GetCapability())
		}
		r.Needs = append(r.Needs, Need{Capability: n.GetCapability(), Quantity: n.GetQuantity()})
	}
	return nil
}

// checkRecipients returns the addressed organisations, sorted and
// deduplicated, refusing any that is not an active member.
func (s *Service) checkRecipients(ctx context.Context, ids []string) ([]string, error) {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, id := range out {
		m, err := s.d.Registry.Member(ctx, id)
		if errors.Is(err, members.ErrNotFound) || (err == nil && m.GetRevokedAt() != nil) {
			return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_RECIPIENT, "recipient %q is not a member; check the id with 'tocsin members list'", id)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// audience applies TLP to who is told of a request: CLEAR, GREEN and
// AMBER go to the matching responders and the named organisations;
// AMBER+STRICT and RED only to the named organisations, even when others
// match.
func (s *Service) audience(r *Request, level tlp.Level) []string {
	var out []string
	if level <= tlp.Amber {
		out = s.matching(r)
	}
	out = append(out, r.To...)
	out = slices.DeleteFunc(out, func(id string) bool { return id == r.Requester })
	slices.Sort(out)
	return slices.Compact(out)
}

// matching returns the active responders, other than the requester, with
// an active capability of a needed type that serves the request's region
// and has free units.
func (s *Service) matching(r *Request) []string {
	types := r.needTypes()
	var out []string
	for _, m := range s.d.Registry.InSectors(s.opts.Vocabulary.Sectors) {
		if m.GetId() == r.Requester || !members.HasRole(m, tocsinv1.Role_ROLE_RESPONDER) {
			continue
		}
		for _, c := range effective(m, s.dir.responder(m.GetId())) {
			if c.State == CapabilityActive && c.Free > 0 && slices.Contains(types, c.Type) && c.serves(r.Region) {
				out = append(out, m.GetId())
				break
			}
		}
	}
	return out
}
