package store

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/tlp"
)

// Kinds of routed messages the store keeps.
const (
	// KindAlert is an alert.
	KindAlert = "alert"
	// KindAdvisory is a liaison's advisory.
	KindAdvisory = "advisory"
)

// Message is one routed alert or advisory, verified, with its objects.
// The store never changes a Message's fields after publishing it except
// Sectors, Inboxes and Revoked, under the store's lock: read them through
// the store's methods, which return copies.
type Message struct {
	// ID is the envelope id.
	ID string `json:"id"`
	// Kind is KindAlert or KindAdvisory.
	Kind string `json:"kind"`
	// Sender is the verified sender's member id.
	Sender string `json:"sender"`
	// SenderName is its display name.
	SenderName string `json:"sender_name"`
	// KeyID is the key that signed it (a relay's for a relayed message).
	KeyID string `json:"key_id"`
	// Via says how it entered Tocsin ("taxii", "console"), empty for the
	// sender's own agent or CLI.
	Via string `json:"via,omitempty"`
	// Signed is the envelope's time.
	Signed time.Time `json:"signed"`
	// Added is the stream time of its first routed copy.
	Added time.Time `json:"added"`
	// Title is the alert's or advisory's title.
	Title string `json:"title"`
	// Lane is flash, urgent, routine or info.
	Lane string `json:"lane"`
	// TLP is the effective TLP: the message's own and every marking.
	TLP tlp.Level `json:"-"`
	// TLPName is TLP as the command line spells it ("amber+strict").
	TLPName string `json:"tlp"`
	// Exercise marks a drill.
	Exercise bool `json:"exercise,omitempty"`
	// Body is an advisory's text.
	Body string `json:"body,omitempty"`
	// RecommendedAction is what the sender asks recipients to do.
	RecommendedAction string `json:"recommended_action,omitempty"`
	// PatientSafetyImpact is an alert's patient-safety note.
	PatientSafetyImpact string `json:"patient_safety_impact,omitempty"`
	// Contact is whom to call about it.
	Contact string `json:"contact,omitempty"`
	// Amends is the alert this one amends or revokes.
	Amends string `json:"amends,omitempty"`
	// Revoked is true for a revocation, and set on the original once its
	// revocation is seen.
	Revoked bool `json:"revoked,omitempty"`
	// Reason is an amendment's or revocation's reason.
	Reason string `json:"reason,omitempty"`
	// Sectors are the sectors whose copies were seen.
	Sectors []string `json:"sectors"`
	// Inboxes are the members whose inbox copies were seen.
	Inboxes []string `json:"inboxes,omitempty"`
	// Objects are the STIX objects of its bundle, in bundle order (as a
	// reader gets it from Message: only those it may read).
	Objects []*Object `json:"-"`
	// ObjectCount is the number of objects in the bundle, all of them.
	ObjectCount int `json:"object_count"`
}

// newMessage builds a Message from a verified envelope and its payload.
func newMessage(env *tocsinv1.Envelope, sender *tocsinv1.Member, payload proto.Message) *Message {
	m := &Message{ID: env.GetId(), Sender: env.GetSender(), SenderName: sender.GetName(), KeyID: env.GetKeyId(),
		Via: env.GetVia(), Signed: env.GetTime().AsTime().UTC()}
	var own tocsinv1.TLP
	var bundle []byte
	switch p := payload.(type) {
	case *tocsinv1.Alert:
		m.Kind, m.Title, m.Lane, own, bundle = KindAlert, p.GetTitle(), records.LaneName(p.GetLane()), p.GetTlp(), p.GetStixBundle()
		m.Exercise, m.RecommendedAction, m.PatientSafetyImpact, m.Contact = p.GetExercise(), p.GetRecommendedAction(), p.GetPatientSafetyImpact(), p.GetContact()
		m.Amends, m.Revoked, m.Reason = p.GetAmends(), p.GetRevoked(), p.GetReason()
	case *tocsinv1.Advisory:
		m.Kind, m.Title, m.Lane, own, bundle = KindAdvisory, p.GetTitle(), records.LaneName(p.GetLane()), p.GetTlp(), p.GetStixBundle()
		m.Exercise, m.Body, m.RecommendedAction = p.GetExercise(), p.GetBody(), p.GetRecommendedAction()
	}
	m.Objects = parseBundle(bundle, m.Signed)
	m.ObjectCount = len(m.Objects)
	level, err := tlp.FromProto(own)
	if err != nil {
		level = tlp.Red // fail closed
	}
	for _, o := range m.Objects {
		level = tlp.Max(level, o.TLP)
	}
	m.TLP, m.TLPName = level, level.String()
	return m
}

// visibleTo reports whether member may see m at all: it sent it, an inbox
// copy was addressed to it, or a sector copy reached one of its sectors
// (only for CLEAR, GREEN and AMBER).
func (m *Message) visibleTo(member *tocsinv1.Member) bool {
	id := member.GetId()
	if m.Sender == id || slices.Contains(m.Inboxes, id) {
		return true
	}
	return m.TLP.AllowsSectorSubjects() && overlaps(m.Sectors, member.GetSectors())
}

// objectsFor returns the objects of m that member may read: all of them
// for the sender and an addressee, those of CLEAR, GREEN and AMBER for a
// sector member.
func (m *Message) objectsFor(member *tocsinv1.Member) []*Object {
	id := member.GetId()
	if m.Sender == id || slices.Contains(m.Inboxes, id) {
		return m.Objects
	}
	var out []*Object
	for _, o := range m.Objects {
		if o.TLP.AllowsSectorSubjects() {
			out = append(out, o)
		}
	}
	return out
}

// snapshot copies the fields that change.
func (m *Message) snapshot() *Message {
	c := *m
	c.Sectors = slices.Clone(m.Sectors)
	c.Inboxes = slices.Clone(m.Inboxes)
	return &c
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
