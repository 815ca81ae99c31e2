package agent

import (
	"encoding/json"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/tlp"
)

// Record is one verified message as the sinks write it: one JSON object,
// one line of the JSONL file, the body of a webhook POST. Only messages that
// passed every check become records, so Verified is always true.
type Record struct {
	// ID is the envelope id: the same for every routed copy, the key every
	// sink deduplicates by.
	ID string `json:"id"`
	// Kind is "alert", "advisory", "sighting-summary" or an aid kind.
	Kind string `json:"kind"`
	// Sender is the member id that signed the message; SenderName its name.
	Sender     string `json:"sender"`
	SenderName string `json:"sender_name,omitempty"`
	// KeyID is the public key whose signature was verified.
	KeyID string `json:"key_id"`
	// Verified is true: the signature, the sender and the TLP were checked.
	Verified bool `json:"verified"`
	// TLP is the effective TLP ("amber"): the most restrictive of the
	// message's own and its STIX markings.
	TLP string `json:"tlp,omitempty"`
	// Lane is the urgency lane ("flash").
	Lane string `json:"lane,omitempty"`
	// Sectors are the sectors the sender addressed.
	Sectors []string `json:"sectors"`
	// Recipients are the named recipient organisations, if any.
	Recipients []string `json:"recipients,omitempty"`
	// Exercise marks a drill: never the real thing.
	Exercise bool `json:"exercise"`
	// Time is when the sender created the message.
	Time time.Time `json:"time"`
	// Routed is when the cluster stored the routed copy (its stream time).
	Routed time.Time `json:"routed"`
	// Received is when this agent wrote it.
	Received time.Time `json:"received"`
	// Delivery is 1 when the copy reached the agent on its first delivery,
	// more after a redelivery (a crash or a lost acknowledgement on the way).
	Delivery uint64 `json:"delivery"`
	// Subject and Seq say which routed copy delivered it (the stream
	// sequence of that copy).
	Subject string `json:"subject"`
	Seq     uint64 `json:"seq"`

	// Title, Body (advisories), Action, Impact and Contact are the words
	// for the person on call.
	Title   string `json:"title,omitempty"`
	Body    string `json:"body,omitempty"`
	Action  string `json:"action,omitempty"`
	Impact  string `json:"impact,omitempty"`
	Contact string `json:"contact,omitempty"`
	// Amends, Revoked and Reason describe an amendment or withdrawal.
	Amends  string `json:"amends,omitempty"`
	Revoked bool   `json:"revoked,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// STIX is the STIX 2.1 bundle, as the sender signed it.
	STIX json.RawMessage `json:"stix,omitempty"`
	// Summary is a sighting summary's content.
	Summary *Summary `json:"summary,omitempty"`
	// Payload is the payload of any other kind (aid messages), as protobuf
	// JSON.
	Payload json.RawMessage `json:"payload,omitempty"`

	// receipted reports whether the record gets a delivered receipt
	// (alerts and advisories).
	receipted bool
}

// Summary is the anonymous sighting count the router sends for an indicator.
type Summary struct {
	IndicatorID   string   `json:"indicator_id"`
	AlertID       string   `json:"alert_id"`
	Sector        string   `json:"sector"`
	Organisations uint32   `json:"organisations"`
	Named         []string `json:"named,omitempty"`
}

// KindName spells an envelope kind as records do ("sighting-summary").
func KindName(k tocsinv1.Kind) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k.String(), "KIND_")), "_", "-")
}

// newRecord fills what every record has from a verified envelope.
func newRecord(env *tocsinv1.Envelope, sender *tocsinv1.Member, subject string, seq uint64) *Record {
	return &Record{
		ID:         env.GetId(),
		Kind:       KindName(env.GetKind()),
		Sender:     env.GetSender(),
		SenderName: sender.GetName(),
		KeyID:      env.GetKeyId(),
		Verified:   true,
		Sectors:    []string{},
		Time:       env.GetTime().AsTime().UTC(),
		Subject:    subject,
		Seq:        seq,
	}
}

// fillAlert copies an alert's content into r.
func (r *Record) fillAlert(a *tocsinv1.Alert) {
	r.Lane = records.LaneName(a.GetLane())
	r.Sectors = append(r.Sectors, a.GetSectors()...)
	r.Recipients = a.GetRecipients()
	r.Exercise = a.GetExercise()
	r.Title, r.Action, r.Impact, r.Contact = a.GetTitle(), a.GetRecommendedAction(), a.GetPatientSafetyImpact(), a.GetContact()
	r.Amends, r.Revoked, r.Reason = a.GetAmends(), a.GetRevoked(), a.GetReason()
	if len(a.GetStixBundle()) > 0 {
		r.STIX = json.RawMessage(a.GetStixBundle())
	}
	r.receipted = true
}

// fillAdvisory copies an advisory's content into r.
func (r *Record) fillAdvisory(a *tocsinv1.Advisory) {
	r.Lane = records.LaneName(a.GetLane())
	r.Sectors = append(r.Sectors, a.GetSectors()...)
	r.Exercise = a.GetExercise()
	r.Title, r.Body, r.Action = a.GetTitle(), a.GetBody(), a.GetRecommendedAction()
	if len(a.GetStixBundle()) > 0 {
		r.STIX = json.RawMessage(a.GetStixBundle())
	}
	r.receipted = true
}

// fillSummary copies a sighting summary into r.
func (r *Record) fillSummary(s *tocsinv1.SightingSummary, lane string) {
	r.Lane = lane
	if s.GetSector() != "" {
		r.Sectors = append(r.Sectors, s.GetSector())
	}
	r.Summary = &Summary{IndicatorID: s.GetIndicatorId(), AlertID: s.GetAlertId(), Sector: s.GetSector(),
		Organisations: s.GetOrganisations(), Named: s.GetNamed()}
	r.Exercise = s.GetExercise()
	r.Title = "sighting count"
}

// fillPayload keeps any other payload as protobuf JSON, with its exercise
// mark and TLP when it carries them (an aid request does).
func (r *Record) fillPayload(p proto.Message) {
	if e, ok := p.(interface{ GetExercise() bool }); ok {
		r.Exercise = e.GetExercise()
	}
	if t, ok := p.(interface{ GetTlp() tocsinv1.TLP }); ok {
		if l, err := tlp.FromProto(t.GetTlp()); err == nil {
			r.TLP = l.String()
		}
	}
	data, err := protojson.Marshal(p)
	if err == nil {
		r.Payload = data
	}
}

// line encodes r as one JSON line (with its newline).
func (r *Record) line() ([]byte, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
