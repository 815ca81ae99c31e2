package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// TestADrillDoesNotSwallowARealAlert: an exercise alert and a real alert
// with the same indicators are deduplicated apart: the real one is routed
// (a drill would otherwise swallow it for the dedupe window), and a second
// drill with them is a duplicate of the first drill.
func TestADrillDoesNotSwallowARealAlert(t *testing.T) {
	h := newHarness(t, 1, Options{})
	drill := func(sender string, exercise bool) *tocsinv1.Envelope {
		a := alertOf(bundle("198.51.100.66", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil)
		a.Exercise = exercise
		return h.publish(sender, subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, a)
	}
	first := drill("st-mary", true)
	if o := h.outcome("st-mary", first.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the drill: %v", o.GetState())
	}
	real := drill("lakeside-childrens", false)
	if o := h.outcome("lakeside-childrens", real.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the real alert after a drill with the same indicator: %v (duplicate of %q), want routed", o.GetState(), o.GetDuplicateOf())
	}
	again := drill("riverside", true)
	if o := h.outcome("riverside", again.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE || o.GetDuplicateOf() != first.GetId() {
		t.Fatalf("a second drill: %v duplicate of %q, want a duplicate of the first drill %s", o.GetState(), o.GetDuplicateOf(), first.GetId())
	}
	// The second drill counts as a sighting of the first: its summary says
	// it is part of the drill.
	testwait.For(t, 30*time.Second, "st-mary told of the drill's sighting, marked exercise", func() error {
		for _, s := range h.summariesFor("st-mary", first.GetId()) {
			if !s.sum.GetExercise() {
				t.Fatalf("the drill's sighting summary is not marked exercise: %v", s.sum)
			}
			return nil
		}
		return fmt.Errorf("no summary of %s for st-mary", first.GetId())
	})
}
