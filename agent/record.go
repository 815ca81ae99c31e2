package agent

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/affected"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// SchemaVersion is the version of the record's shape, its schema_version
// field. It changes when a field is removed or changes meaning; fields are
// added without a change. docs/schemas/record.schema.json describes it.
const SchemaVersion = 1

// Record kinds: the record's kind field.
const (
	KindAlert           = "alert"
	KindAmendment       = "amendment"
	KindRevocation      = "revocation"
	KindAdvisory        = "advisory"
	KindCSAFAdvisory    = "csaf-advisory"
	KindSightingSummary = "sighting-summary"
	KindAid             = "aid"
)

// Record is one verified message as the sinks write it: one JSON object,
// one line of the JSONL file, the body of a webhook POST (docs/AGENT.md,
// "The record"; docs/schemas/record.schema.json). Only messages that passed
// every check become records, so Verified is always true. The fields every
// kind has come first, the STIX bundle last.
type Record struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// ID is the envelope id: the same for every routed copy, the key every
	// sink deduplicates by.
	ID string `json:"id"`
	// Kind is one of the Kind constants: an alert that amends or revokes
	// another is an "amendment" or a "revocation".
	Kind string `json:"kind"`
	// Sender is the member id that signed the message; SenderName its name.
	Sender     string `json:"sender"`
	SenderName string `json:"sender_name,omitempty"`
	// KeyID is the public key whose signature was verified.
	KeyID string `json:"key_id"`
	// Verified is true: the signature, the sender and the TLP were checked.
	Verified bool `json:"verified"`
	// TLP is the effective TLP ("amber"): for alerts and advisories the
	// most restrictive of the message's own and its STIX markings; for
	// what derives from another message (a sighting summary, an aid offer
	// or decision) the TLP of what it derives from.
	TLP string `json:"tlp"`
	// Exercise marks a drill: never the real thing. Derived messages carry
	// the mark of what they derive from.
	Exercise bool `json:"exercise"`
	// Lane is the urgency lane ("flash"); an aid request's urgency.
	Lane string `json:"lane"`
	// Severity is the lane in SOC words (records.SeverityOf): critical,
	// high, medium, low.
	Severity string `json:"severity"`
	// Time is when the sender created the message.
	Time time.Time `json:"time"`
	// Routed is when the cluster stored the routed copy (its stream time).
	Routed time.Time `json:"routed"`
	// Received is when this agent wrote it.
	Received time.Time `json:"received"`
	// Sectors are the sectors the sender addressed.
	Sectors []string `json:"sectors"`
	// Recipients are the named recipient organisations, if any.
	Recipients []string `json:"recipients,omitempty"`
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
	// Indicators are the STIX patterns' comparisons, one row each, so that
	// a SIEM matches without parsing STIX. Empty when there is none.
	Indicators []Indicator `json:"indicators"`
	// Summary is a sighting summary's content.
	Summary *Summary `json:"summary,omitempty"`
	// Aid is an aid message's content.
	Aid *Aid `json:"aid,omitempty"`
	// Affected is, on a csaf-advisory record of an agent with an inventory
	// (Options.Inventory), the member's own rows the advisory matched:
	// what, where, who answers for it, the advisory's product id and
	// status, the CVEs, remediations and highest score for it; [] when
	// nothing matched. Absent without an inventory. A match raises the
	// record's Severity one lane (records.Raised).
	Affected []affected.Finding `json:"affected,omitzero"`
	// STIX is the STIX 2.1 bundle, as the sender signed it.
	STIX json.RawMessage `json:"stix,omitempty"`

	// receipted reports whether the record gets a delivered receipt
	// (alerts and advisories).
	receipted bool
}

// Summary is the anonymous sighting count the router sends for an indicator.
type Summary struct {
	IndicatorID string `json:"indicator_id,omitempty"`
	AlertID     string `json:"alert_id"`
	Sector      string `json:"sector"`
	// Organisations is the count, from records.SightingFloor up; 0 below
	// it, when FewerThan is the floor (3): "seen at fewer than 3".
	Organisations uint32   `json:"organisations"`
	FewerThan     uint32   `json:"fewer_than,omitempty"`
	Named         []string `json:"named"`
	Pattern       string   `json:"pattern,omitempty"`
}

// KindName spells an envelope kind as records do ("sighting-summary").
func KindName(k tocsinv1.Kind) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k.String(), "KIND_")), "_", "-")
}

// newRecord fills what every record has from a verified envelope.
func newRecord(env *tocsinv1.Envelope, sender *tocsinv1.Member, subject string, seq uint64) *Record {
	return &Record{
		SchemaVersion: SchemaVersion,
		ID:            env.GetId(),
		Kind:          KindName(env.GetKind()),
		Sender:        env.GetSender(),
		SenderName:    sender.GetName(),
		KeyID:         env.GetKeyId(),
		Verified:      true,
		Sectors:       []string{},
		Indicators:    []Indicator{},
		Time:          env.GetTime().AsTime().UTC(),
		Subject:       subject,
		Seq:           seq,
	}
}

// region is the region whose router routed the copy that delivered r, in
// a supercluster of stream sets (its subject's, tocsin.r.<region>.…); ""
// on a single cluster.
func (r *Record) region() string {
	region, _ := subjects.OutOfRegion(r.Subject)
	return region
}

// setLane sets the lane and its severity. A lane the table does not know
// (unspecified, or newer than this code) is routine, as SeverityOf treats it.
func (r *Record) setLane(l tocsinv1.Lane) {
	if _, known := tocsinv1.Lane_name[int32(l)]; !known || l == tocsinv1.Lane_LANE_UNSPECIFIED {
		l = tocsinv1.Lane_LANE_ROUTINE
	}
	r.Lane = records.LaneName(l)
	r.Severity = records.SeverityOf(l).Name
}

// laneOf is the lane named ("routine"); unspecified for a name it does
// not know.
func laneOf(name string) tocsinv1.Lane {
	return tocsinv1.Lane(tocsinv1.Lane_value["LANE_"+strings.ToUpper(name)])
}

// raisedLane names the lane one step more urgent than lane (records.Raised).
func raisedLane(lane string) string { return records.LaneName(records.Raised(laneOf(lane))) }

// severity is r's severity: records.SeverityOf its lane, one lane more
// urgent (records.Raised) when the member's inventory matched it.
func (r *Record) severity() records.Severity {
	l := laneOf(r.Lane)
	if len(r.Affected) > 0 {
		l = records.Raised(l)
	}
	return records.SeverityOf(l)
}

// setAffected records the inventory's findings (none: an empty list, so a
// reader tells "matched nothing" from "not matched") and raises the
// severity when there are some.
func (r *Record) setAffected(fs []affected.Finding) {
	if fs == nil {
		fs = []affected.Finding{}
	}
	r.Affected = fs
	r.Severity = r.severity().Name
}

// setLaneName sets the lane from its name ("info") and its severity.
func (r *Record) setLaneName(name string) {
	r.setLane(laneOf(name))
}

// fillAlert copies an alert's content into r.
func (r *Record) fillAlert(a *tocsinv1.Alert) {
	r.setLane(a.GetLane())
	r.Sectors = append(r.Sectors, a.GetSectors()...)
	r.Recipients = a.GetRecipients()
	r.Exercise = a.GetExercise()
	r.Title, r.Action, r.Impact, r.Contact = a.GetTitle(), a.GetRecommendedAction(), a.GetPatientSafetyImpact(), a.GetContact()
	r.Amends, r.Revoked, r.Reason = a.GetAmends(), a.GetRevoked(), a.GetReason()
	switch {
	case r.Amends != "" && r.Revoked:
		r.Kind = KindRevocation
	case r.Amends != "":
		r.Kind = KindAmendment
	}
	r.fillBundle(a.GetStixBundle())
	r.receipted = true
}

// fillAdvisory copies an advisory's content into r.
func (r *Record) fillAdvisory(a *tocsinv1.Advisory) {
	r.setLane(a.GetLane())
	r.Sectors = append(r.Sectors, a.GetSectors()...)
	r.Exercise = a.GetExercise()
	r.Title, r.Body, r.Action = a.GetTitle(), a.GetBody(), a.GetRecommendedAction()
	r.fillBundle(a.GetStixBundle())
	if len(a.GetCsafDocument()) > 0 {
		r.Kind = KindCSAFAdvisory
	}
	r.receipted = true
}

// fillBundle keeps the bundle and its indicators' rows.
func (r *Record) fillBundle(bundle []byte) {
	if len(bundle) == 0 {
		return
	}
	r.STIX = json.RawMessage(bundle)
	r.Indicators = bundleIndicators(bundle)
}

// fillSummary copies a sighting summary into r, delivered on lane (info;
// none in an inbox). Its
// TLP is the alert's it counts; a summary from a router that does not say
// takes its copy's TLP header, and failing that AMBER, the most a sector
// copy may be (a TLP is never made less restrictive by a guess).
func (r *Record) fillSummary(s *tocsinv1.SightingSummary, lane string, hdr nats.Header) {
	if lane == "" {
		lane = "info" // the originator's inbox copy: summaries travel on info
	}
	r.setLaneName(lane)
	if s.GetSector() != "" {
		r.Sectors = append(r.Sectors, s.GetSector())
	}
	named := s.GetNamed()
	if named == nil {
		named = []string{}
	}
	r.Summary = &Summary{IndicatorID: s.GetIndicatorId(), AlertID: s.GetAlertId(), Sector: s.GetSector(),
		Organisations: uint32(records.SightingOrganisations(s.GetOrganisations())), Named: named, Pattern: s.GetPattern()}
	if r.Summary.Organisations == 0 {
		// Below the floor (the router's rule, applied again): no number, no name.
		r.Summary.FewerThan, r.Summary.Named = records.SightingFloor, []string{}
	}
	r.Exercise = s.GetExercise()
	r.TLP = derivedTLP(s.GetTlp(), hdr)
	r.Title = "sighting count"
	if s.GetPattern() != "" {
		r.Indicators = patternIndicators(s.GetIndicatorId(), "", "stix", s.GetPattern(), "", "")
	}
}

// derivedTLP is the TLP a message says it derives from, else its copy's
// TLP header, else AMBER.
func derivedTLP(own tocsinv1.TLP, hdr nats.Header) string {
	if l, err := tlp.FromProto(own); err == nil {
		return l.String()
	}
	if l, err := tlp.Parse(hdr.Get(records.HeaderTLP)); err == nil {
		return l.String()
	}
	return tlp.Amber.String()
}

// line encodes r as one JSON line (with its newline).
func (r *Record) line() ([]byte, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
