package agent

import (
	"testing"

	"github.com/nats-io/nats.go"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// TestRecordsCarryTheExerciseMarkAndTLP: a sighting summary of a drill and
// an aid request of an exercise say exercise, and the aid request its TLP,
// in the record a SIEM reads (they said exercise false and no TLP). A
// summary takes the TLP of the alert it counts, else its copy's; an offer
// or a decision, which carry none, take the request's from the copy.
func TestRecordsCarryTheExerciseMarkAndTLP(t *testing.T) {
	var sum Record
	sum.fillSummary(&tocsinv1.SightingSummary{AlertId: "a1", Sector: "patient-care", Organisations: 3, Exercise: true, Tlp: tocsinv1.TLP_TLP_AMBER}, "info", nil)
	if !sum.Exercise || sum.TLP != "amber" || sum.Severity != "low" {
		t.Errorf("a drill's sighting summary: exercise %v, tlp %q, severity %q; want true, amber, low", sum.Exercise, sum.TLP, sum.Severity)
	}
	var old Record
	old.fillSummary(&tocsinv1.SightingSummary{AlertId: "a1", Sector: "patient-care"}, "", nats.Header{records.HeaderTLP: {"TLP:GREEN"}})
	if old.TLP != "green" || old.Lane != "info" {
		t.Errorf("a summary without its own TLP: tlp %q lane %q; want the copy's green, on info", old.TLP, old.Lane)
	}
	var none Record
	none.fillSummary(&tocsinv1.SightingSummary{AlertId: "a1", Sector: "patient-care"}, "info", nil)
	if none.TLP != "amber" {
		t.Errorf("a summary with no TLP anywhere: tlp %q; want amber (never guessed lower)", none.TLP)
	}
	var aid Record
	aid.fillAid(&tocsinv1.AidRequest{Exercise: true, Tlp: tocsinv1.TLP_TLP_AMBER, Urgency: tocsinv1.Lane_LANE_FLASH}, nil)
	if !aid.Exercise || aid.TLP != "amber" || aid.Lane != "flash" || aid.Severity != "critical" {
		t.Errorf("an exercise's aid request: exercise %v, tlp %q, lane %q, severity %q; want true, amber, flash, critical", aid.Exercise, aid.TLP, aid.Lane, aid.Severity)
	}
	var real Record
	real.fillAid(&tocsinv1.AidRequest{Tlp: tocsinv1.TLP_TLP_GREEN}, nil)
	if real.Exercise || real.TLP != "green" {
		t.Errorf("a real aid request: exercise %v, tlp %q", real.Exercise, real.TLP)
	}
	var offer Record
	offer.fillAid(&tocsinv1.AidOffer{RequestId: "r1"}, nats.Header{records.HeaderTLP: {"amber+strict"}, records.HeaderLane: {"urgent"}, records.HeaderExercise: {"true"}})
	if !offer.Exercise || offer.TLP != "amber+strict" || offer.Lane != "urgent" || offer.Severity != "high" {
		t.Errorf("an offer on an exercise's request: exercise %v, tlp %q, lane %q, severity %q", offer.Exercise, offer.TLP, offer.Lane, offer.Severity)
	}
}
