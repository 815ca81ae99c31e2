package agent

import (
	"testing"

	"github.com/tocsin-project/tocsin/agent/paging"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

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

// TestAnAcknowledgementNamesTheCopysRegion: an acknowledgement, through
// the agent's local endpoint (Agent.Receipt) or made in PagerDuty, names
// the region whose router routed the copy (ref_region), read from the
// copy's subject, so that the router files it in that region's REACH: from
// the records written lately, else from the page, which keeps it.
func TestAnAcknowledgementNamesTheCopysRegion(t *testing.T) {
	west := rec("01WESTCOPY")
	west.Sender, west.Lane, west.Kind = "hhs", "flash", KindAlert
	west.Subject = subjects.InRegion("west", subjects.Sector("patient-care", "flash"))
	plain := rec("01PLAINCOPY")
	plain.Sender, plain.Subject = "hhs", subjects.Sector("patient-care", "flash")
	pd, err := paging.NewPagerDuty(paging.PagerDutyOptions{URL: "http://127.0.0.1:9/enqueue", RoutingKey: "KEY"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := paging.New(paging.Options{Dir: t.TempDir(), Channels: []paging.Channel{pd}, Policy: paging.Policy{Steps: []paging.Step{{Channel: "pagerduty"}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := pageMessage(west)
	if m.Region != "west" {
		t.Fatalf("the page of a copy on %s: region %q, want west", west.Subject, m.Region)
	}
	if _, err := p.Enqueue([]paging.Message{m}); err != nil {
		t.Fatal(err)
	}
	a := &Agent{opts: Options{Pager: p}, recent: &recent{max: 10}}
	acked := tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED
	check := func(what string, rc *tocsinv1.Receipt, sender, region string) {
		t.Helper()
		if rc.GetRefSender() != sender || rc.GetRefRegion() != region {
			t.Errorf("%s: ref_sender %q, ref_region %q; want %q, %q", what, rc.GetRefSender(), rc.GetRefRegion(), sender, region)
		}
	}
	check("paged, not among the records written lately", a.receiptOf(west.ID, acked, ""), "hhs", "west")
	check("acknowledged in PagerDuty", a.pagedReceipt(m, "acknowledged in PagerDuty"), "hhs", "west")
	a.opts.Pager = nil
	check("neither written lately nor paged", a.receiptOf(west.ID, acked, ""), "", "")
	a.recent.add([]*Record{west, plain})
	check("written lately", a.receiptOf(west.ID, acked, ""), "hhs", "west")
	check("a copy of a single cluster", a.receiptOf(plain.ID, acked, ""), "hhs", "")
	check("a page of an older agent (no region kept)", a.pagedReceipt(paging.Message{ID: west.ID}, ""), "hhs", "west")
}
