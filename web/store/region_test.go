package store

import (
	"slices"
	"testing"
)

// A region's store follows its region's copies streams and indexes every
// region's copies.
func TestStoreFollowsItsRegionsCopies(t *testing.T) {
	if got := New(Deps{Region: "east"}, nil).streams(); !slices.Equal(got, []string{"SECTORS-east", "INBOX-east"}) {
		t.Fatalf("east's store follows %v", got)
	}
	if got := New(Deps{}, nil).streams(); !slices.Equal(got, []string{"SECTORS", "INBOX"}) {
		t.Fatalf("a single cluster's store follows %v", got)
	}
	if sector, _, ok := destination("tocsin.r.west.sector.patient-care.flash"); !ok || sector != "patient-care" {
		t.Fatalf("west's copy: sector %q, %v", sector, ok)
	}
	if _, inbox, ok := destination("tocsin.r.west.inbox.st-mary"); !ok || inbox != "st-mary" {
		t.Fatalf("west's inbox copy: inbox %q, %v", inbox, ok)
	}
}
