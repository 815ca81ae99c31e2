package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/alerts/tlp"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// Killing a node whose router holds messages mid-flight loses nothing and
// delivers nothing twice to a sector subject: its unacked messages are
// redelivered to the routers on the other nodes.
func TestNodeLossMidFlightLosesNothingAndDuplicatesNothing(t *testing.T) {
	h := newHarness(t, 3, Options{AckWait: 2 * time.Second})
	senders := []string{"st-mary", "riverside", "hilltop", "ehr-vendor"}
	const n = 240
	ids := make([]*tocsinv1.Envelope, 0, n)
	for i := range n {
		s := senders[i%len(senders)]
		b := bundle(fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256+1), tlp.Green)
		ids = append(ids, h.publish(s, subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
			alertOf(b, tlp.Green, tocsinv1.Lane_LANE_ROUTINE, []string{"patient-care"}, nil)))
		if i == n/3 {
			h.c.StopNode(0) // its router is mid-flight
		}
	}
	for _, env := range ids {
		if o := h.outcome(env.GetSender(), env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			t.Fatalf("%s: %v", env.GetId(), o.GetState())
		}
	}
	envs, _ := h.messages(subjects.StreamSectors, subjects.SectorAll("patient-care"))
	seen := map[string]int{}
	for _, e := range envs {
		seen[e.GetId()]++
	}
	for _, env := range ids {
		if seen[env.GetId()] != 1 {
			t.Errorf("alert %s is on the sector subject %d times, want once", env.GetId(), seen[env.GetId()])
		}
	}
	if len(envs) != n {
		t.Fatalf("sector holds %d alerts, want %d", len(envs), n)
	}
}
