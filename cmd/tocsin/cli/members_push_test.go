package cli

import (
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// A registry list answered by a replica a moment behind lacks the members
// just added, or has their records before the change: the push still
// carries the changed records (the CI failure it fixes: a member admitted
// with "members add" whose account no node had, 60 s later).
func TestThePushCarriesTheChangedRecordsWhateverTheListMissed(t *testing.T) {
	stale := []*tocsinv1.Member{{Id: "admin"}, {Id: "clinic-b", Name: "before"}, {Id: "st-mary"}}
	changed := []*tocsinv1.Member{{Id: "clinic-m1"}, {Id: "clinic-b", Name: "after"}, {Id: "clinic-a"}}
	got := withChanged(stale, changed)
	var ids []string
	for _, m := range got {
		ids = append(ids, m.GetId())
	}
	want := []string{"admin", "clinic-a", "clinic-b", "clinic-m1", "st-mary"}
	if len(ids) != len(want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %v, want %v", ids, want)
		}
	}
	if got[2].GetName() != "after" {
		t.Errorf("clinic-b is the list's stale record %q, want the changed one", got[2].GetName())
	}
	if len(withChanged(stale, nil)) != len(stale) {
		t.Error("nothing changed: the list itself")
	}
}
