package console

import (
	"testing"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// A summary below the floor (the router sends 0 there; an older one may
// carry the count and names) is shown as "fewer than 3", naming no one.
func TestSightingCountsBelowTheFloorAreNotShown(t *testing.T) {
	s := newSightings()
	t0 := time.Now()
	mary := &tocsinv1.Member{Id: "st-mary", Sectors: []string{"patient-care"}}
	riverside := &tocsinv1.Member{Id: "riverside", Sectors: []string{"patient-care"}}
	pharma := &tocsinv1.Member{Id: "acme-pharma", Sectors: []string{"pharma"}}
	s.put(&tocsinv1.SightingSummary{AlertId: "A", Sector: "patient-care", Organisations: 2, Named: []string{"hilltop"}}, t0, false)
	got := s.of(riverside, "st-mary", "A")
	if len(got) != 1 || got[0].Organisations != 0 || got[0].FewerThan != records.SightingFloor || got[0].Named != nil {
		t.Fatalf("two organisations: %+v", got)
	}
	// An older summary delivered late does not undo a newer one.
	s.put(&tocsinv1.SightingSummary{AlertId: "A", Sector: "patient-care", Organisations: 3}, t0.Add(time.Second), false)
	s.put(&tocsinv1.SightingSummary{AlertId: "A", Sector: "patient-care", Organisations: 1}, t0, false)
	if got := s.of(riverside, "st-mary", "A"); got[0].Organisations != 3 || got[0].FewerThan != 0 {
		t.Fatalf("three organisations: %+v", got)
	}
	// The originator sees every sector's count, others only their sectors'.
	s.put(&tocsinv1.SightingSummary{AlertId: "A", Sector: "pharma", Organisations: 4}, t0, false)
	if got := s.of(mary, "st-mary", "A"); len(got) != 2 || got[0].Sector != "patient-care" || got[1].Sector != "pharma" {
		t.Fatalf("the originator's counts: %+v", got)
	}
	if got := s.of(pharma, "st-mary", "A"); len(got) != 1 || got[0].Sector != "pharma" {
		t.Fatalf("pharma's counts: %+v", got)
	}
	// A count sent to the originator's inbox alone is the originator's.
	s.put(&tocsinv1.SightingSummary{AlertId: "B", Sector: "patient-care", Organisations: 5}, t0, true)
	if got := s.of(riverside, "ir-firm", "B"); len(got) != 0 {
		t.Fatalf("the originator's own count shown to a sector member: %+v", got)
	}
	if got := s.of(&tocsinv1.Member{Id: "ir-firm"}, "ir-firm", "B"); len(got) != 1 || got[0].Organisations != 5 {
		t.Fatalf("the originator's own count: %+v", got)
	}
}
