package mutualaid

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/internal/testwait"
)

// TestEndingARequestReleasesItsUnits: a close, a cancel and an expiry each
// free every unit the request still books (offers accepted, mobilising or
// on site, not yet demobilised), in the same step; those offers become
// released, which is final; the responders are told; an offer never
// accepted is left to its responder.
func TestEndingARequestReleasesItsUnits(t *testing.T) {
	h := newHarness(t, Options{ExpiryCheck: 100 * time.Millisecond})
	const ir, dt = "ir-firm/incident-response", "downtime-staffing/ehr-downtime-support"

	// Closed: ir-firm's 2 units on site, downtime-staffing's 1 accepted
	// only, ir-firm's second offer never accepted.
	closed := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 2), need("ehr-downtime-support", 1))).GetId()
	onSite := h.ok("ir-firm", kOff, offer(closed, "incident-response", 2)).GetId()
	accepted := h.ok("downtime-staffing", kOff, offer(closed, "ehr-downtime-support", 1)).GetId()
	spare := h.ok("ir-firm", kOff, offer(closed, "incident-response", 1)).GetId()
	h.ok("st-mary", kDec, decide(aAccept, "", onSite, 0))
	h.ok("st-mary", kDec, decide(aAccept, "", accepted, 0))
	h.ok("ir-firm", kDec, decide(aMobilise, "", onSite, 0))
	h.ok("ir-firm", kDec, decide(aArrive, "", onSite, 0))
	// Cancelled: ir-firm's unit mobilising.
	cancelled := h.ok("riverside", kReq, request(amber, nil, need("incident-response", 1))).GetId()
	mobilising := h.ok("ir-firm", kOff, offer(cancelled, "incident-response", 1)).GetId()
	h.ok("riverside", kDec, decide(aAccept, "", mobilising, 0))
	h.ok("ir-firm", kDec, decide(aMobilise, "", mobilising, 0))
	// Expired while partly filled: ir-firm's unit accepted.
	short := request(amber, nil, need("incident-response", 2))
	short.ExpiresAt = timestamppb.New(time.Now().Add(15 * time.Second))
	expired := h.ok("hilltop", kReq, short).GetId()
	waiting := h.ok("ir-firm", kOff, offer(expired, "incident-response", 1)).GetId()
	h.ok("hilltop", kDec, decide(aAccept, "", waiting, 0))
	if c := h.capability("ir-firm", ir); c.Booked != 4 || c.Free != 0 {
		t.Fatalf("ir-firm %+v before the ends, want all 4 units booked", c)
	}

	closeID := h.ok("st-mary", kDec, decide(aClose, closed, "", 0)).GetId()
	if c := h.capability("downtime-staffing", dt); c.Booked != 0 {
		t.Fatalf("downtime-staffing has %d units booked after the close", c.Booked)
	}
	if c := h.capability("ir-firm", ir); c.Booked != 2 {
		t.Fatalf("ir-firm has %d units booked after the close, want the 2 of the other requests", c.Booked)
	}
	r := h.show("st-mary", closed).Request
	for id, want := range map[string]OfferState{onSite: OfferReleased, accepted: OfferReleased, spare: OfferOffered} {
		if got := r.offer(id).State; got != want {
			t.Fatalf("offer %s is %s after the close, want %s", id, got, want)
		}
	}
	for _, who := range []string{"ir-firm", "downtime-staffing"} {
		if !h.inboxIDs(who)[closeID] {
			t.Fatalf("%s was not told of the close that released its units", who)
		}
	}
	// Released is final: the responder has nothing left to move.
	for _, a := range []struct {
		who, offer string
	}{{"ir-firm", onSite}, {"downtime-staffing", accepted}} {
		p := h.refused(a.who, kDec, decide(aDemobilise, "", a.offer, 0), cIllegal)
		if !strings.Contains(p.GetMessage(), "is released") || !strings.Contains(p.GetMessage(), "final") {
			t.Fatalf("a demobilise after the close refused with %q", p.GetMessage())
		}
	}

	h.ok("riverside", kDec, decide(aCancel, cancelled, "", 0))
	if got := h.show("riverside", cancelled).Request.offer(mobilising).State; got != OfferReleased {
		t.Fatalf("the mobilising offer is %s after the cancel, want released", got)
	}
	testwait.For(t, 60*time.Second, "the partly filled request to expire", testwait.True(func() bool {
		return h.show("hilltop", expired).Request.State == RequestExpired
	}))
	if got := h.show("hilltop", expired).Request.offer(waiting).State; got != OfferReleased {
		t.Fatalf("the accepted offer is %s after the expiry, want released", got)
	}
	if c := h.capability("ir-firm", ir); c.Booked != 0 || c.Free != 4 {
		t.Fatalf("ir-firm %+v after every request ended, want all 4 units free", c)
	}
	// The units are offered and accepted again at once.
	again := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 4))).GetId()
	o := h.ok("ir-firm", kOff, offer(again, "incident-response", 4)).GetId()
	h.ok("st-mary", kDec, decide(aAccept, "", o, 0))
}
