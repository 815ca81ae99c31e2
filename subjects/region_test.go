package subjects

import "testing"

func TestRegionNames(t *testing.T) {
	for _, c := range []struct{ region, subject, want string }{
		{"", Sector("patient-care", "flash"), "tocsin.sector.patient-care.flash"},
		{"east", Sector("patient-care", "flash"), "tocsin.r.east.sector.patient-care.flash"},
		{"west", IngestAll, "tocsin.r.west.ingest.>"},
		{AnyRegion, SectorAll("patient-care"), "tocsin.r.*.sector.patient-care.>"},
		{"east", Inbox("st-mary"), "tocsin.r.east.inbox.st-mary"},
	} {
		if got := InRegion(c.region, c.subject); got != c.want {
			t.Errorf("InRegion(%q, %q) = %q, want %q", c.region, c.subject, got, c.want)
		}
		region, plain := OutOfRegion(c.want)
		if c.region != AnyRegion && (region != c.region || plain != c.subject) {
			t.Errorf("OutOfRegion(%q) = %q, %q; want %q, %q", c.want, region, plain, c.region, c.subject)
		}
	}
	for _, s := range []string{"tocsin.r.east", "tocsin.r..sector.x", "tocsin.rx.east.sector.x"} {
		if region, plain := OutOfRegion(s); region != "" || plain != s {
			t.Errorf("OutOfRegion(%q) = %q, %q; want no region", s, region, plain)
		}
	}
	if got := RegionStream(StreamIngest, "east"); got != "INGEST-east" {
		t.Errorf("RegionStream = %q", got)
	}
	if got := RegionStream(StreamIngest, ""); got != StreamIngest {
		t.Errorf("RegionStream without a region = %q", got)
	}
}
