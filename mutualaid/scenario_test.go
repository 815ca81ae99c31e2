package mutualaid

import (
	"slices"
	"testing"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestStMarysNight plays steps 4, 5 and 8 of the scenario: the request,
// the two matching responders notified (from their registry capabilities),
// the offers, both accepted, the request filled with capacity booked, the
// timeline with every signer, then demobilisation and close.
func TestStMarysNight(t *testing.T) {
	h := newHarness(t, Options{})
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 2), need("ehr-downtime-support", 1)))
	r := h.show("st-mary", req.GetId()).Request
	if r.State != RequestOpen || r.Region != "northeast" || r.TLP != "amber" || r.Urgency != "flash" {
		t.Fatalf("request %+v", r)
	}
	if want := []string{"downtime-staffing", "ir-firm"}; !slices.Equal(r.Audience, want) {
		t.Fatalf("audience %v, want the two matching responders %v", r.Audience, want)
	}
	for _, who := range []string{"ir-firm", "downtime-staffing"} {
		if !h.inboxIDs(who)[req.GetId()] {
			t.Fatalf("%s was not notified of the request", who)
		}
	}
	for _, who := range []string{"lakeside-childrens", "acme-pharma", "ehr-vendor", "hhs-liaison"} {
		if h.inboxIDs(who)[req.GetId()] {
			t.Fatalf("%s was notified of an AMBER request it does not match", who)
		}
	}

	ir := h.ok("ir-firm", kOff, offer(req.GetId(), "incident-response", 2))
	dt := h.ok("downtime-staffing", kOff, offer(req.GetId(), "ehr-downtime-support", 1))
	if !h.inboxIDs("st-mary")[ir.GetId()] || !h.inboxIDs("st-mary")[dt.GetId()] {
		t.Fatal("st-mary was not told of both offers")
	}
	if v := h.show("ir-firm", req.GetId()).Request; len(v.Offers) != 1 || v.Offers[0].ID != ir.GetId() || v.Audience != nil {
		t.Fatalf("ir-firm sees offers %v and audience %v; it should see its own offer only", v.Offers, v.Audience)
	}

	h.ok("st-mary", kDec, decide(tocsinv1.AidAction_AID_ACTION_ACCEPT, "", ir.GetId(), 0))
	h.ok("st-mary", kDec, decide(tocsinv1.AidAction_AID_ACTION_ACCEPT, req.GetId(), dt.GetId(), 0))
	r = h.show("st-mary", req.GetId()).Request
	if r.State != RequestFilled {
		t.Fatalf("request %s after both accepts, want filled", r.State)
	}
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.Booked != 2 || c.Free != 2 || c.Source != SourceRegistry {
		t.Fatalf("ir-firm incident-response %+v, want 2 booked of 4 from the registry", c)
	}
	if !h.inboxIDs("ir-firm")[r.Timeline[3].ID] {
		t.Fatal("ir-firm was not told its offer was accepted")
	}

	for _, a := range []tocsinv1.AidAction{tocsinv1.AidAction_AID_ACTION_MOBILISE, tocsinv1.AidAction_AID_ACTION_ARRIVE, tocsinv1.AidAction_AID_ACTION_DEMOBILISE} {
		h.ok("ir-firm", kDec, decide(a, "", ir.GetId(), 0))
	}
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.Booked != 0 || c.Free != 4 {
		t.Fatalf("ir-firm incident-response %+v after demobilising, want all 4 free", c)
	}
	h.ok("st-mary", kDec, decide(tocsinv1.AidAction_AID_ACTION_CLOSE, req.GetId(), "", 0))

	r = h.show("st-mary", req.GetId()).Request
	want := []struct {
		action Action
		by     string
		state  string
	}{
		{ActRequest, "st-mary", "open"}, {ActOffer, "ir-firm", "offered"}, {ActOffer, "downtime-staffing", "offered"},
		{ActAccept, "st-mary", "accepted"}, {ActAccept, "st-mary", "accepted"}, {ActMobilise, "ir-firm", "mobilising"},
		{ActArrive, "ir-firm", "on-site"}, {ActDemobilise, "ir-firm", "demobilised"}, {ActClose, "st-mary", "closed"},
	}
	if r.State != RequestClosed || len(r.Timeline) != len(want) {
		t.Fatalf("request %s with %d steps, want closed with %d: %+v", r.State, len(r.Timeline), len(want), r.Timeline)
	}
	for i, w := range want {
		e := r.Timeline[i]
		if e.Action != w.action || e.By != w.by || e.State != w.state || e.KeyID != h.signers[w.by].KeyID() || e.At.IsZero() {
			t.Fatalf("step %d is %+v, want %s by %s (%s) with its key and time", i, e, w.action, w.by, w.state)
		}
	}
	audit := h.messages(subjects.StreamAidAudit, RequestAuditAll(req.GetId()))
	if len(audit) != len(want) {
		t.Fatalf("AID_AUDIT holds %d steps of the request, want %d", len(audit), len(want))
	}
	for i, env := range audit {
		if env.GetId() != r.Timeline[i].ID || env.GetSender() != want[i].by {
			t.Fatalf("audit %d is %s by %s, want %s by %s", i, env.GetId(), env.GetSender(), r.Timeline[i].ID, want[i].by)
		}
		if _, err := envelope.NewVerifier(h.reg, envelope.VerifyOptions{}).Verify(t.Context(), env); err != nil {
			t.Fatalf("audit %d does not verify: %v", i, err)
		}
	}
}
