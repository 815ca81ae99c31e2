package mutualaid

import (
	"slices"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// visibleTo reports whether member m may see request r, failing closed:
// the requester always; CLEAR and GREEN every member; AMBER its audience
// (matching responders and named organisations) and the liaison;
// AMBER+STRICT and RED only the organisations named in it. Tocsin's own
// services see everything.
func (r *Request) visibleTo(m *tocsinv1.Member) bool {
	id := m.GetId()
	switch {
	case id == r.Requester || members.HasRole(m, tocsinv1.Role_ROLE_SERVICE):
		return true
	case !hasAnyRole(m, requesters) || m.GetRevokedAt() != nil:
		return false
	}
	level, err := tlp.Parse(r.TLP)
	switch {
	case err != nil:
		return false
	case level <= tlp.Green:
		return true
	case level == tlp.Amber:
		return slices.Contains(r.Audience, id) || members.HasRole(m, tocsinv1.Role_ROLE_LIAISON)
	default:
		return slices.Contains(r.To, id)
	}
}

// fullView reports whether m sees every offer and the audience of r: the
// requester, the liaison (when it may see r at all) and services.
func (r *Request) fullView(m *tocsinv1.Member) bool {
	return m.GetId() == r.Requester || members.HasRole(m, tocsinv1.Role_ROLE_LIAISON) || members.HasRole(m, tocsinv1.Role_ROLE_SERVICE)
}

// viewFor returns what m may see of r, nil when m may not see it: a
// responder sees the request, its own offers and the steps that concern
// the request or them, not other responders' offers nor who was notified.
func (r *Request) viewFor(m *tocsinv1.Member) *Request {
	if !r.visibleTo(m) {
		return nil
	}
	v := r.clone()
	if r.fullView(m) {
		return v
	}
	own := map[string]bool{}
	v.Offers = slices.DeleteFunc(v.Offers, func(o *Offer) bool {
		own[o.ID] = o.Responder == m.GetId()
		return !own[o.ID]
	})
	v.Timeline = slices.DeleteFunc(v.Timeline, func(e Event) bool { return e.Offer != "" && !own[e.Offer] })
	v.Audience = nil
	return v
}
