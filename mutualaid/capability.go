package mutualaid

import (
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Where a capability comes from.
const (
	// SourceRegistry: the responder's member record (the registry seed).
	SourceRegistry = "registry"
	// SourceRegistration: registered by the responder through Tocsin
	// ("tocsin aid capability add"), over the registry's when the ids match.
	SourceRegistration = "registration"
)

// Capability states.
const (
	// CapabilityActive is matched and offered against.
	CapabilityActive = "active"
	// CapabilityRemoved was removed by its responder; bookings on it stand
	// until they demobilise.
	CapabilityRemoved = "removed"
)

// Capability is a responder's mission-ready package as the service sees it:
// the registry's record, or the responder's registration over it, with the
// units booked by accepted offers.
type Capability struct {
	// ID is unique per responder ("ir-firm/incident-response").
	ID string `json:"id"`
	// State is active or removed.
	State string `json:"state"`
	// Responder is the member that provides it.
	Responder string `json:"responder"`
	// Type is the capability type from the vocabulary.
	Type string `json:"type"`
	// Capacity is the units available at once.
	Capacity uint32 `json:"capacity"`
	// Booked is the units held by accepted offers.
	Booked uint32 `json:"booked"`
	// Free is Capacity less Booked (never below 0).
	Free uint32 `json:"free"`
	// Regions served; empty means every region.
	Regions []string `json:"regions,omitempty"`
	// LeadTime is the time from acceptance to arrival.
	LeadTime Duration `json:"lead_time"`
	// Contact is who to call about the package.
	Contact string `json:"contact,omitempty"`
	// Source is registry or registration.
	Source string `json:"source"`
	// UpdatedAt is the time of the registration that set it (zero for the
	// registry's).
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Event is the envelope id of that registration.
	Event string `json:"event,omitempty"`
}

// serves reports whether c serves region.
func (c *Capability) serves(region string) bool {
	return len(c.Regions) == 0 || slices.Contains(c.Regions, region)
}

// capabilityFrom converts a wire capability of responder.
func capabilityFrom(responder string, p *tocsinv1.AidCapability, source string) *Capability {
	c := &Capability{
		ID: p.GetId(), State: CapabilityActive, Responder: responder, Type: p.GetType(), Capacity: p.GetCapacity(),
		Regions: slices.Clone(p.GetRegions()), Contact: p.GetContact(), Source: source,
	}
	if p.GetLeadTime() != nil {
		c.LeadTime = Duration(p.GetLeadTime().AsDuration())
	}
	if p.GetRemoved() {
		c.State = CapabilityRemoved
	}
	return c
}

// Proto converts c to its wire form (as a registration carries it).
func (c *Capability) Proto() *tocsinv1.AidCapability {
	return &tocsinv1.AidCapability{
		Id: c.ID, Type: c.Type, Capacity: c.Capacity, Regions: slices.Clone(c.Regions),
		LeadTime: durationpb.New(time.Duration(c.LeadTime)), Contact: c.Contact, Removed: c.State == CapabilityRemoved,
	}
}

// effective merges a responder's registry capabilities (the base) with its
// registrations (updates by id, or new packages) and bookings, sorted by
// id. Removed packages are included, marked removed.
func effective(m *tocsinv1.Member, rec *responderRecord) []*Capability {
	byID := map[string]*Capability{}
	if members.HasRole(m, tocsinv1.Role_ROLE_RESPONDER) {
		for _, p := range m.GetCapabilities() {
			byID[p.GetId()] = capabilityFrom(m.GetId(), p, SourceRegistry)
		}
	}
	if rec != nil {
		for id, reg := range rec.Registrations {
			c := *reg
			c.Regions = slices.Clone(reg.Regions)
			byID[id] = &c
		}
		for _, b := range rec.Bookings {
			if c := byID[b.Capability]; c != nil {
				c.Booked += b.Units
			}
		}
	}
	out := make([]*Capability, 0, len(byID))
	for _, id := range sortedKeys(byID) {
		c := byID[id]
		c.Free = 0
		if c.Capacity > c.Booked {
			c.Free = c.Capacity - c.Booked
		}
		out = append(out, c)
	}
	return out
}

// validCapabilityID reports whether id is tokens joined by "/", the rule
// the registry applies ("ir-firm/incident-response").
func validCapabilityID(id string) bool {
	for part := range strings.SplitSeq(id, "/") {
		if !envelope.ValidMemberID(part) {
			return false
		}
	}
	return true
}

// ownsCapabilityID reports whether responder m may register id: an id of
// one of its registry packages, or one under its own prefix "<id>/".
func ownsCapabilityID(m *tocsinv1.Member, id string) bool {
	if strings.HasPrefix(id, m.GetId()+"/") {
		return true
	}
	return slices.ContainsFunc(m.GetCapabilities(), func(c *tocsinv1.AidCapability) bool { return c.GetId() == id })
}

// pickCapability finds the package an offer draws on: by id, or by type
// (the active package of that type with the most free units).
func pickCapability(caps []*Capability, want string) *Capability {
	var best *Capability
	for _, c := range caps {
		if c.State != CapabilityActive || (c.ID != want && c.Type != want) {
			continue
		}
		if c.ID == want {
			return c
		}
		if best == nil || c.Free > best.Free {
			best = c
		}
	}
	return best
}
