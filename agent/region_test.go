package agent

import "testing"

// A member homed in a region of a supercluster of stream sets reads its
// region's streams, whose copies carry their router's region.
func TestAgentReadsARegionsCopiesAndStreams(t *testing.T) {
	for subject, want := range map[string]destination{
		"tocsin.sector.patient-care.flash":        {sector: "patient-care", lane: "flash"},
		"tocsin.r.west.sector.patient-care.flash": {sector: "patient-care", lane: "flash"},
		"tocsin.r.east.inbox.st-mary":             {inbox: "st-mary"},
		"tocsin.inbox.st-mary":                    {inbox: "st-mary"},
	} {
		if d, ok := parseDestination(subject); !ok || d != want {
			t.Errorf("parseDestination(%q) = %+v, %v; want %+v", subject, d, ok, want)
		}
	}
	if _, ok := parseDestination("tocsin.r.east.ingest.alert.st-mary"); ok {
		t.Error("an ingest subject parsed as a destination")
	}
	for stream, want := range map[string]bool{"SECTORS": true, "SECTORS-east": true, "SECTORSX": false, "INBOX-east": false} {
		if isStream(stream, "SECTORS") != want {
			t.Errorf("isStream(%q, SECTORS) = %v", stream, !want)
		}
	}
}
