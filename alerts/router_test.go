package alerts

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

func alertOf(b []byte, level tlp.Level, lane tocsinv1.Lane, sectors, to []string) *tocsinv1.Alert {
	return &tocsinv1.Alert{Title: "ransomware C2", Lane: lane, Sectors: sectors, Recipients: to, Tlp: level.Proto(), StixBundle: b,
		RecommendedAction: "block at the perimeter", Exercise: true}
}

// memberIDsIn lists the registry's members of the sectors.
func (h *harness) memberIDsIn(sectors ...string) []string {
	var ids []string
	for _, m := range h.reg.InSectors(sectors) {
		ids = append(ids, m.GetId())
	}
	slices.Sort(ids)
	return ids
}

func TestGreenAlertReachesExactlyItsSectors(t *testing.T) {
	h := newHarness(t, 2, Options{})
	env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("198.51.100.7", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care", "pharma"}, nil))
	o := h.outcome("st-mary", env.GetId())
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("outcome %v, want routed (rejection %v)", o.GetState(), o.GetRejection())
	}
	want := h.memberIDsIn("patient-care", "pharma")
	if int(o.GetOrganisations()) != len(want) || len(want) < 6 {
		t.Fatalf("routed to %d organisations, want %d (%v)", o.GetOrganisations(), len(want), want)
	}
	for _, sector := range []string{"patient-care", "pharma"} {
		envs, ids := h.messages(subjects.StreamSectors, subjects.SectorAll(sector))
		if len(envs) != 1 || envs[0].GetId() != env.GetId() || ids[0] != env.GetId()+":"+sector {
			t.Fatalf("sector %s holds %d messages (ids %v), want the alert once with id %s:%s", sector, len(envs), ids, env.GetId(), sector)
		}
		if !proto.Equal(envs[0], env) {
			t.Fatalf("sector %s holds a changed envelope; the router must forward the original", sector)
		}
	}
	for _, other := range []string{"health-it", "medtech", "public-health", "federal"} {
		if envs, _ := h.messages(subjects.StreamSectors, subjects.SectorAll(other)); len(envs) != 0 {
			t.Fatalf("sector %s got %d messages of an alert not addressed to it", other, len(envs))
		}
	}
}

func TestRedAlertReachesOnlyItsRecipients(t *testing.T) {
	h := newHarness(t, 1, Options{})
	to := []string{"ir-firm", "downtime-staffing"}
	env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("203.0.113.9", tlp.Red), tlp.Red, tocsinv1.Lane_LANE_FLASH, []string{"patient-care"}, to))
	o := h.outcome("st-mary", env.GetId())
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED || len(o.GetSectors()) != 0 || o.GetOrganisations() != 2 {
		t.Fatalf("outcome %+v, want routed to 2 inboxes and no sector", o)
	}
	if envs, _ := h.messages(subjects.StreamSectors, subjects.SectorsAll); len(envs) != 0 {
		t.Fatalf("a RED alert reached %d sector subjects", len(envs))
	}
	for _, m := range to {
		if envs, _ := h.messages(subjects.StreamInbox, subjects.Inbox(m)); len(envs) != 1 || envs[0].GetId() != env.GetId() {
			t.Fatalf("inbox of %s holds %d messages, want the alert", m, len(envs))
		}
	}
	if envs, _ := h.messages(subjects.StreamInbox, subjects.InboxAll); len(envs) != 2 {
		t.Fatalf("%d inbox messages in all, want exactly 2", len(envs))
	}
}

// A bundle marked RED sent as GREEN is RED: the most restrictive marking
// wins, and without recipients it is refused.
func TestBundleMarkingsRaiseTheTLP(t *testing.T) {
	h := newHarness(t, 1, Options{})
	env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("203.0.113.10", tlp.Red), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	rej := h.rejection("st-mary", env.GetId())
	if got := codes.Name(rej.GetProblems()[0].GetCode()); got != "tlp-needs-recipients" {
		t.Fatalf("rejection %q, want tlp-needs-recipients", got)
	}
	if envs, _ := h.messages(subjects.StreamSectors, subjects.SectorsAll); len(envs) != 0 {
		t.Fatalf("a RED-marked bundle reached a sector subject")
	}
}

func TestDuplicateIndicatorIsNotRebroadcastAndCountsAsSighting(t *testing.T) {
	h := newHarness(t, 2, Options{})
	first := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("198.51.100.77", tlp.Amber), tlp.Amber, tocsinv1.Lane_LANE_FLASH, []string{"patient-care", "health-it"}, nil))
	if o := h.outcome("st-mary", first.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("first: %v", o)
	}
	// Lakeside publishes the same C2 address in its own bundle (new ids).
	b := bundle("198.51.100.77", tlp.Amber)
	second := h.publish("lakeside-childrens", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(b, tlp.Amber, tocsinv1.Lane_LANE_FLASH, []string{"patient-care"}, nil))
	o := h.outcome("lakeside-childrens", second.GetId())
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE || o.GetDuplicateOf() != first.GetId() {
		t.Fatalf("second: %v duplicate of %q, want duplicate of %s", o.GetState(), o.GetDuplicateOf(), first.GetId())
	}
	envs, _ := h.messages(subjects.StreamSectors, subjects.Sector("patient-care", "flash"))
	if len(envs) != 1 {
		t.Fatalf("patient-care flash holds %d alerts, want only the first", len(envs))
	}
	// Three hospitals report sightings of Lakeside's indicator: 4 in all.
	for _, m := range []string{"riverside", "valley-general", "hilltop", "riverside"} {
		h.publish(m, subjects.KindSighting, tocsinv1.Kind_KIND_SIGHTING, &tocsinv1.Sighting{IndicatorId: indicatorID(t, b), Count: 1})
	}
	summaries := func() []*tocsinv1.SightingSummary {
		var out []*tocsinv1.SightingSummary
		for _, s := range h.summariesFor("st-mary", first.GetId()) {
			out = append(out, s.sum)
		}
		return out
	}
	testwait.For(t, 30*time.Second, "st-mary to be told: seen at 4 other patient-care organisations", testwait.True(func() bool {
		s := summaries()
		return len(s) > 0 && s[len(s)-1].GetOrganisations() == 4
	}))
	for _, s := range summaries() {
		if len(s.GetNamed()) != 0 || s.GetSector() != "patient-care" || s.GetAlertId() != first.GetId() {
			t.Fatalf("summary %+v: must be anonymous, for patient-care and the first alert", s)
		}
	}
	// The sector hears the count on its info lane (st-mary, in the sector,
	// there too): fewer than 3, then 3, then 4.
	if envs, _ := h.messages(subjects.StreamSectors, subjects.Sector("patient-care", "info")); len(envs) != 3 {
		t.Fatalf("patient-care info lane holds %d summaries, want 3 (fewer than 3, 3, 4 organisations)", len(envs))
	}
}

// Each refusal comes back to the sender with its own reason code, and the
// router carries on.
func TestRejectionsCarryTheirReasonCode(t *testing.T) {
	h := newHarness(t, 1, Options{})
	good := func() *tocsinv1.Alert {
		return alertOf(bundle("198.51.100.8", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil)
	}
	tampered, _ := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT, good())
	tampered.Payload = append(tampered.Payload, 0x50, 0x01)
	swapped, _ := h.signers["lakeside-childrens"].Seal(tocsinv1.Kind_KIND_ALERT, good())
	swapped.Sender = "st-mary"
	wrongKey, _ := h.signers["riverside"].Seal(tocsinv1.Kind_KIND_ALERT, good())
	wrongKey.Sender, wrongKey.KeyId = "st-mary", h.signers["st-mary"].KeyID()
	_ = h.signers["riverside"].Sign(wrongKey)
	advisory, _ := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "x", Lane: tocsinv1.Lane_LANE_URGENT, Tlp: tocsinv1.TLP_TLP_CLEAR})
	cases := []struct {
		name  string
		env   *tocsinv1.Envelope
		token string
		want  string
	}{
		{"tampered payload", tampered, subjects.KindAlert, "bad-signature"},
		{"swapped sender", swapped, subjects.KindAlert, "unknown-key"},
		{"wrong key", wrongKey, subjects.KindAlert, "bad-signature"},
		{"advisory from a member", advisory, subjects.KindAdvisory, "not-permitted"},
		{"unknown tlp", seal(t, h, good(), func(a *tocsinv1.Alert) { a.Tlp = tocsinv1.TLP_TLP_UNSPECIFIED }), subjects.KindAlert, "unknown-tlp"},
		{"unknown sector", seal(t, h, good(), func(a *tocsinv1.Alert) { a.Sectors = []string{"hosptial"} }), subjects.KindAlert, "unknown-sector"},
		{"unknown lane", seal(t, h, good(), func(a *tocsinv1.Alert) { a.Lane = 0 }), subjects.KindAlert, "unknown-lane"},
		{"unknown recipient", seal(t, h, good(), func(a *tocsinv1.Alert) { a.Recipients = []string{"nobody"} }), subjects.KindAlert, "unknown-recipient"},
		{"invalid stix", seal(t, h, good(), func(a *tocsinv1.Alert) {
			a.StixBundle = []byte(strings.Replace(string(a.StixBundle), "[ipv4-addr:value = ", "[ipv4-addr:value == = ", 1))
		}), subjects.KindAlert, "invalid-pattern"},
		{"no bundle", seal(t, h, good(), func(a *tocsinv1.Alert) { a.StixBundle = nil }), subjects.KindAlert, "invalid-bundle"},
		{"amber+strict without recipients", seal(t, h, good(), func(a *tocsinv1.Alert) { a.Tlp = tocsinv1.TLP_TLP_AMBER_STRICT }), subjects.KindAlert, "tlp-needs-recipients"},
		{"expired time", seal(t, h, good(), func(*tocsinv1.Alert) {}, envelope.WithTime(time.Now().Add(-time.Hour))), subjects.KindAlert, "clock-skew"},
		{"amend another's alert", seal(t, h, good(), func(a *tocsinv1.Alert) { a.Amends = "01NOSUCHALERT" }), subjects.KindAlert, "unknown-reference"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.publishEnv("st-mary", tc.token, tc.env)
			rej := h.rejection("st-mary", tc.env.GetId())
			if got := codes.Name(rej.GetProblems()[0].GetCode()); got != tc.want {
				t.Fatalf("reason %q (%s), want %q", got, rej.GetProblems()[0].GetMessage(), tc.want)
			}
			if tc.token == subjects.KindAlert {
				if o := h.outcome("st-mary", tc.env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
					t.Fatalf("outcome %v, want rejected", o.GetState())
				}
			}
		})
	}
	h.t = t
	// Garbage on the ingest subject: a rejection with no id, and the router lives on.
	h.publishRaw(subjects.Ingest(subjects.KindAlert, "st-mary"), "garbage-1", []byte{0xff, 0x00, 0x13})
	rej := h.rejection("st-mary", "")
	if got := codes.Name(rej.GetProblems()[0].GetCode()); got != "malformed" {
		t.Fatalf("garbage: %q, want malformed", got)
	}
	ok := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, good())
	if o := h.outcome("st-mary", ok.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("a good alert after the bad ones: %v", o.GetState())
	}
}

// TestReplayIsNeverRoutedTwice: a replayed id is not routed twice, even
// past the stream's own dedupe (a new message id), and its sender is told:
// replay. With the default skew bound a first delivery is routed without
// looking its id up; a skew bound as long as half the ingest duplicate
// window makes the router look every id up, with the same result.
func TestReplayIsNeverRoutedTwice(t *testing.T) {
	for _, skew := range []time.Duration{0, broker.IngestDuplicates / 2} {
		t.Run(fmt.Sprintf("max skew %v", skew), func(t *testing.T) {
			h := newHarness(t, 2, Options{MaxSkew: skew})
			good := func() *tocsinv1.Alert {
				return alertOf(bundle("203.0.113.7", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil)
			}
			ok := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, good())
			if o := h.outcome("st-mary", ok.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
				t.Fatalf("the original: %v", o.GetState())
			}
			h.publishRaw(subjects.Ingest(subjects.KindAlert, "st-mary"), "", mustMarshal(t, ok))
			h.publishRaw(subjects.Ingest(subjects.KindAlert, "st-mary"), ok.GetId(), mustMarshal(t, ok))
			testwait.For(t, 30*time.Second, "a replay rejection for "+ok.GetId(), testwait.True(func() bool {
				envs, _ := h.messages(subjects.StreamRejections, subjects.Rejection("st-mary"))
				for _, e := range envs {
					var rej tocsinv1.Rejection
					if proto.Unmarshal(e.GetPayload(), &rej) == nil && rej.GetRefId() == ok.GetId() && codes.Name(rej.GetProblems()[0].GetCode()) == "replay" {
						return true
					}
				}
				return false
			}))
			if o := h.outcome("st-mary", ok.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
				t.Fatalf("the replay changed the outcome to %v", o.GetState())
			}
			marker := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, alertOf(bundle("198.51.100.99", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
			h.outcome("st-mary", marker.GetId())
			envs, _ := h.messages(subjects.StreamSectors, subjects.SectorAll("patient-care"))
			n := 0
			for _, e := range envs {
				if e.GetId() == ok.GetId() {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("a replayed alert was routed %d times, want once", n)
			}
		})
	}
}

func seal(t *testing.T, h *harness, a *tocsinv1.Alert, change func(*tocsinv1.Alert), opts ...envelope.SealOption) *tocsinv1.Envelope {
	t.Helper()
	change(a)
	env, err := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT, a, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Past its flash cap a publisher's flash alerts are held: outcome HELD,
// the sender told (flash-cap), an operator alarm in OPS; other lanes flow.
func TestFlashCapHoldsAndAlarms(t *testing.T) {
	h := newHarness(t, 1, Options{FlashCap: 2})
	var ids []string
	for i := range 3 {
		env := h.publish("valley-general", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
			alertOf(bundle(fmt.Sprintf("192.0.2.%d", i+1), tlp.Green), tlp.Green, tocsinv1.Lane_LANE_FLASH, []string{"patient-care"}, nil))
		ids = append(ids, env.GetId())
		h.outcome("valley-general", env.GetId()) // in order: each decided before the next
	}
	for i, id := range ids {
		want := tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED
		if i == 2 {
			want = tocsinv1.OutcomeState_OUTCOME_STATE_HELD
		}
		if o := h.outcome("valley-general", id); o.GetState() != want {
			t.Fatalf("flash alert %d: %v, want %v", i+1, o.GetState(), want)
		}
	}
	if rej := h.rejection("valley-general", ids[2]); codes.Name(rej.GetProblems()[0].GetCode()) != "flash-cap" {
		t.Fatalf("held alert's notice: %v", rej.GetProblems())
	}
	alarms, _ := h.rawMessages(subjects.StreamOps, subjects.OpsAll)
	if len(alarms) != 1 || !strings.Contains(string(alarms[0]), ids[2]) {
		t.Fatalf("operator alarms %q, want one naming %s", alarms, ids[2])
	}
	if envs, _ := h.messages(subjects.StreamSectors, subjects.Sector("patient-care", "flash")); len(envs) != 2 {
		t.Fatalf("%d flash alerts reached the sector, want 2", len(envs))
	}
	urgent := h.publish("valley-general", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.99", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("valley-general", urgent.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("an urgent alert past the flash cap: %v", o.GetState())
	}
}
