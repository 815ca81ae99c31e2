package members

import (
	"slices"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
)

// timeLayout formats times in error messages.
const timeLayout = time.RFC3339

// PublicView returns what every member may see of m: id, name, sectors,
// region, home region (on a channel with a stream set per region), roles,
// a vendor's publisher namespace (it is in every CSAF document the vendor
// publishes; agents check its advisories against it), signing keys,
// revocation and creation times. Contacts and
// capabilities (with their contacts) are left out. Nil gives nil.
func PublicView(m *tocsinv1.Member) *tocsinv1.Member {
	if m == nil {
		return nil
	}
	return &tocsinv1.Member{
		Id:        m.Id,
		Name:      m.Name,
		Sectors:   slices.Clone(m.Sectors),
		Region:    m.Region,
		Roles:     slices.Clone(m.Roles),
		Keys:      cloneAll(m.Keys),
		RevokedAt: proto.CloneOf(m.RevokedAt),
		CreatedAt: proto.CloneOf(m.CreatedAt),
		// Which region's streams it reads, on a channel with a stream set
		// per region: its own live view (tocsin tail) subscribes to
		// every region's copies then.
		HomeRegion: m.HomeRegion,

		PublisherNamespace: m.PublisherNamespace,
	}
}

// cloneAll deep-copies a list of messages.
func cloneAll[M proto.Message](ms []M) []M {
	if ms == nil {
		return nil
	}
	out := make([]M, len(ms))
	for i, m := range ms {
		out[i] = proto.CloneOf(m)
	}
	return out
}

// HasRole reports whether m holds role.
func HasRole(m *tocsinv1.Member, role tocsinv1.Role) bool {
	return slices.Contains(m.GetRoles(), role)
}

// Active reports whether m was a member in good standing at at: created
// (when its creation time is recorded) no later than at, and not revoked at
// or before at. A nil member is not active.
func Active(m *tocsinv1.Member, at time.Time) bool {
	if m == nil {
		return false
	}
	if c := m.GetCreatedAt(); c != nil && c.AsTime().After(at) {
		return false
	}
	if r := m.GetRevokedAt(); r != nil && !r.AsTime().After(at) {
		return false
	}
	return true
}
