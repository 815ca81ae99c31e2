package agent

import (
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestRecordsCarryTheExerciseMarkAndTLP: a sighting summary of a drill and
// an aid request of an exercise say exercise, and the aid request its TLP,
// in the record a SIEM reads (they said exercise false and no TLP).
func TestRecordsCarryTheExerciseMarkAndTLP(t *testing.T) {
	var sum Record
	sum.fillSummary(&tocsinv1.SightingSummary{AlertId: "a1", Sector: "patient-care", Organisations: 3, Exercise: true}, "info")
	if !sum.Exercise {
		t.Error("a drill's sighting summary: exercise false")
	}
	var aid Record
	aid.fillPayload(&tocsinv1.AidRequest{Exercise: true, Tlp: tocsinv1.TLP_TLP_AMBER})
	if !aid.Exercise || aid.TLP != "amber" {
		t.Errorf("an exercise's aid request: exercise %v, tlp %q; want true and amber", aid.Exercise, aid.TLP)
	}
	var real Record
	real.fillPayload(&tocsinv1.AidRequest{Tlp: tocsinv1.TLP_TLP_GREEN})
	if real.Exercise || real.TLP != "green" {
		t.Errorf("a real aid request: exercise %v, tlp %q", real.Exercise, real.TLP)
	}
}
