package mutualaid

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

const (
	aAccept     = tocsinv1.AidAction_AID_ACTION_ACCEPT
	aDecline    = tocsinv1.AidAction_AID_ACTION_DECLINE
	aWithdraw   = tocsinv1.AidAction_AID_ACTION_WITHDRAW
	aMobilise   = tocsinv1.AidAction_AID_ACTION_MOBILISE
	aArrive     = tocsinv1.AidAction_AID_ACTION_ARRIVE
	aDemobilise = tocsinv1.AidAction_AID_ACTION_DEMOBILISE
	aClose      = tocsinv1.AidAction_AID_ACTION_CLOSE
	aCancel     = tocsinv1.AidAction_AID_ACTION_CANCEL
	aExpire     = tocsinv1.AidAction_AID_ACTION_EXPIRE

	cIllegal    = tocsinv1.RejectionCode_REJECTION_CODE_ILLEGAL_TRANSITION
	cOverFill   = tocsinv1.RejectionCode_REJECTION_CODE_OVER_FILL
	cNoCapacity = tocsinv1.RejectionCode_REJECTION_CODE_NO_CAPACITY
	cNotAllowed = tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED
	cUnknownRef = tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE
)

// TestLifecycleThroughTheService walks requests and offers through every
// state on the cluster and tries an illegal step in each: the service
// refuses it with ILLEGAL_TRANSITION naming the state and what it allows,
// and the record is unchanged.
func TestLifecycleThroughTheService(t *testing.T) {
	h := newHarness(t, Options{})
	illegalStep := func(sender string, d *tocsinv1.AidDecision, state string, allowed ...string) {
		t.Helper()
		p := h.refused(sender, kDec, d, cIllegal)
		for _, w := range append([]string{"is " + state}, allowed...) {
			if !strings.Contains(p.GetMessage(), w) {
				t.Fatalf("%v refused with %q, which does not name %q", d.GetAction(), p.GetMessage(), w)
			}
		}
	}
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 3))).GetId()
	o1 := h.ok("ir-firm", kOff, offer(req, "incident-response", 2)).GetId()
	o2 := h.ok("ir-firm", kOff, offer(req, "ir-firm/incident-response", 1)).GetId()
	o3 := h.ok("ir-firm", kOff, offer(req, "incident-response", 1)).GetId()

	// offered: mobilise, arrive and demobilise are not yet possible.
	illegalStep("ir-firm", decide(aMobilise, "", o1, 0), "offered", "accept", "decline", "withdraw")
	illegalStep("ir-firm", decide(aDemobilise, "", o1, 0), "offered", "accept", "decline", "withdraw")
	// accept part of o1: the request is partly filled.
	h.ok("st-mary", kDec, decide(aAccept, "", o1, 1))
	if r := h.show("st-mary", req).Request; r.State != RequestPartlyFilled || r.Needs[0].Accepted != 1 || r.offer(o1).Accepted != 1 {
		t.Fatalf("after accepting 1 of o1: request %s, needs %+v", r.State, r.Needs)
	}
	// accepted: no withdraw, no second accept, no arrive before mobilising.
	illegalStep("ir-firm", decide(aWithdraw, "", o1, 0), "accepted", "mobilise", "demobilise")
	illegalStep("st-mary", decide(aAccept, "", o1, 0), "accepted", "mobilise", "demobilise")
	illegalStep("ir-firm", decide(aArrive, "", o1, 0), "accepted", "mobilise", "demobilise")
	h.ok("ir-firm", kDec, decide(aMobilise, "", o1, 0))
	illegalStep("ir-firm", decide(aMobilise, "", o1, 0), "mobilising", "arrive", "demobilise")
	h.ok("ir-firm", kDec, decide(aArrive, "", o1, 0))
	illegalStep("st-mary", decide(aDecline, "", o1, 0), "on-site", "demobilise")
	// withdrawn and declined are final.
	h.ok("ir-firm", kDec, decide(aWithdraw, "", o2, 0))
	illegalStep("st-mary", decide(aAccept, "", o2, 0), "withdrawn", "final")
	h.ok("st-mary", kDec, decide(aDecline, "", o3, 0))
	illegalStep("ir-firm", decide(aWithdraw, "", o3, 0), "declined", "final")
	h.ok("ir-firm", kDec, decide(aDemobilise, "", o1, 0))
	illegalStep("ir-firm", decide(aDemobilise, "", o1, 0), "demobilised", "final")

	// A filled request takes no more offers or accepts; a closed one nothing.
	o4 := h.ok("ir-firm", kOff, offer(req, "incident-response", 2)).GetId()
	h.ok("st-mary", kDec, decide(aAccept, "", o4, 0))
	if r := h.show("st-mary", req).Request; r.State != RequestFilled {
		t.Fatalf("request %s, want filled", r.State)
	}
	p := h.refused("ir-firm", kOff, offer(req, "incident-response", 1), cIllegal)
	if !strings.Contains(p.GetMessage(), "is filled") {
		t.Fatalf("offer on a filled request refused with %q", p.GetMessage())
	}
	h.ok("st-mary", kDec, decide(aClose, req, "", 0))
	illegalStep("st-mary", decide(aCancel, req, "", 0), "closed", "final")
	// The close released the accepted offer's units: nothing is left to move.
	illegalStep("ir-firm", decide(aDemobilise, "", o4, 0), "released", "final")

	// A cancelled request is final too.
	req2 := h.ok("st-mary", kReq, request(amber, nil, need("forensics", 1))).GetId()
	h.ok("st-mary", kDec, decide(aCancel, req2, "", 0))
	illegalStep("st-mary", decide(aClose, req2, "", 0), "cancelled", "final")
	h.refused("ir-firm", kOff, offer(req2, "forensics", 1), cIllegal)
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.Booked != 0 {
		t.Fatalf("ir-firm has %d units booked after every offer ended", c.Booked)
	}
}

// TestOverFillAndCapacity: an accept beyond the remaining need is OVER_FILL
// unless its quantity trims it; beyond the responder's free units
// NO_CAPACITY; an offer beyond them is refused at once.
func TestOverFillAndCapacity(t *testing.T) {
	h := newHarness(t, Options{})
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 3))).GetId()
	big := h.ok("ir-firm", kOff, offer(req, "incident-response", 4)).GetId()
	p := h.refused("st-mary", kDec, decide(aAccept, "", big, 0), cOverFill)
	if !strings.Contains(p.GetMessage(), "--qty 3") {
		t.Fatalf("over-fill says %q; it should offer --qty 3", p.GetMessage())
	}
	h.refused("ir-firm", kOff, offer(req, "incident-response", 5), cNoCapacity)
	// Another request books 2 of ir-firm's 4 units.
	other := h.ok("lakeside-childrens", kReq, request(amber, nil, need("incident-response", 2))).GetId()
	o := h.ok("ir-firm", kOff, offer(other, "incident-response", 2)).GetId()
	h.ok("lakeside-childrens", kDec, decide(aAccept, "", o, 0))
	// 2 free: accepting 3 of the 4 offered is refused for capacity.
	p = h.refused("st-mary", kDec, decide(aAccept, "", big, 3), cNoCapacity)
	if !strings.Contains(p.GetMessage(), "2 of 4") {
		t.Fatalf("no-capacity says %q; it should say 2 of 4 free", p.GetMessage())
	}
	h.ok("st-mary", kDec, decide(aAccept, "", big, 2))
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.Booked != 4 || c.Free != 0 {
		t.Fatalf("ir-firm %+v, want all 4 booked", c)
	}
	if r := h.show("st-mary", req).Request; r.State != RequestPartlyFilled || r.Needs[0].Accepted != 2 {
		t.Fatalf("request %s with %d accepted, want partly-filled with 2", r.State, r.Needs[0].Accepted)
	}
	h.refused("ir-firm", kOff, offer(req, "incident-response", 1), cNoCapacity)
}

// TestWhoMayDoWhat: a member cannot act as someone else, whether it forges
// the sender, signs with its own key for another, or takes a step that is
// the requester's or the responder's.
func TestWhoMayDoWhat(t *testing.T) {
	h := newHarness(t, Options{})
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 2), need("ehr-downtime-support", 1))).GetId()
	ir := h.ok("ir-firm", kOff, offer(req, "incident-response", 2)).GetId()

	// downtime-staffing's envelope on ir-firm's subject: the subject names
	// the sender (the server lets each publish only on its own).
	env, _ := h.signers["downtime-staffing"].Seal(kDec, decide(aWithdraw, "", ir, 0))
	h.publishOn(0, "tocsin.ingest.aid.ir-firm", env)
	h.wantRejected("ir-firm", env.GetId(), tocsinv1.RejectionCode_REJECTION_CODE_SENDER_MISMATCH)
	// An envelope claiming ir-firm, signed with downtime-staffing's key.
	forged, _ := h.signers["downtime-staffing"].Seal(kDec, decide(aWithdraw, "", ir, 0), func(e *tocsinv1.Envelope) { e.Sender = "ir-firm"; e.Via = "forged" })
	h.publishOn(0, "tocsin.ingest.aid.ir-firm", forged)
	h.wantRejected("ir-firm", forged.GetId(), tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_KEY)

	h.refused("downtime-staffing", kDec, decide(aWithdraw, "", ir, 0), cNotAllowed)
	h.refused("ir-firm", kDec, decide(aAccept, "", ir, 0), cNotAllowed)
	h.refused("downtime-staffing", kDec, decide(aClose, req, "", 0), cNotAllowed)
	h.refused("st-mary", kDec, decide(aMobilise, "", ir, 0), cNotAllowed)
	h.refused("st-mary", kDec, decide(aExpire, req, "", 0), cNotAllowed)
	h.refused("st-mary", kOff, offer(req, "incident-response", 1), cNotAllowed)
	// lakeside is not in the AMBER request's audience: it does not exist
	// for lakeside.
	h.refused("lakeside-childrens", kDec, decide(aAccept, "", ir, 0), cUnknownRef)
	if r := h.show("st-mary", req).Request; r.offer(ir).State != OfferOffered || len(r.Timeline) != 2 {
		t.Fatalf("refused steps changed the request: %+v", r.Timeline)
	}
}

// TestStrictAndRedRequests: AMBER+STRICT and RED go only to the
// organisations named, even when others match, and no one else can see,
// list or answer them.
func TestStrictAndRedRequests(t *testing.T) {
	h := newHarness(t, Options{})
	h.refused("st-mary", kReq, request(tocsinv1.TLP_TLP_AMBER_STRICT, nil, need("incident-response", 1)), tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS)
	h.refused("st-mary", kReq, request(tocsinv1.TLP_TLP_RED, []string{"nobody-here"}, need("incident-response", 1)), tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_RECIPIENT)
	for _, level := range []tocsinv1.TLP{tocsinv1.TLP_TLP_AMBER_STRICT, tocsinv1.TLP_TLP_RED} {
		// ir-firm matches incident-response, but only downtime-staffing is named.
		req := h.ok("st-mary", kReq, request(level, []string{"downtime-staffing"}, need("incident-response", 1), need("ehr-downtime-support", 1))).GetId()
		if r := h.show("st-mary", req).Request; len(r.Audience) != 1 || r.Audience[0] != "downtime-staffing" {
			t.Fatalf("%v audience %v, want downtime-staffing only", level, r.Audience)
		}
		if !h.inboxIDs("downtime-staffing")[req] {
			t.Fatalf("%v: downtime-staffing was not notified", level)
		}
		for _, other := range []string{"ir-firm", "hhs-liaison", "lakeside-childrens"} {
			if h.inboxIDs(other)[req] {
				t.Fatalf("%v: %s got a request not addressed to it", level, other)
			}
			var sr ShowReply
			if err := h.ask(other, OpShow, ShowQuery{ID: req}, &sr); codes.Of(err) != cUnknownRef {
				t.Fatalf("%v: %s asked for the request and got %v, %+v; want unknown-reference", level, other, err, sr.Request)
			}
			var lr ListReply
			if err := h.ask(other, OpList, ListQuery{}, &lr); err != nil {
				t.Fatal(err)
			}
			for _, r := range lr.Requests {
				if r.ID == req {
					t.Fatalf("%v: %s lists the request", level, other)
				}
			}
		}
		h.refused("ir-firm", kOff, offer(req, "incident-response", 1), cUnknownRef)
		h.ok("downtime-staffing", kOff, offer(req, "ehr-downtime-support", 1))
	}
}

// TestCapabilityRegistrations: the registry's packages are the base,
// registrations replace them by id, add new ones and remove them; matching
// and offers follow.
func TestCapabilityRegistrations(t *testing.T) {
	h := newHarness(t, Options{})
	// ir-firm grows its incident-response team and adds a package.
	h.ok("ir-firm", kCap, &tocsinv1.AidCapability{Id: "ir-firm/incident-response", Type: "incident-response", Capacity: 10, Regions: []string{"northeast", "midwest"}})
	h.ok("ir-firm", kCap, &tocsinv1.AidCapability{Type: "network-restoration", Capacity: 2})
	c := h.capability("ir-firm", "ir-firm/incident-response")
	if c.Capacity != 10 || c.Source != SourceRegistration || c.State != CapabilityActive {
		t.Fatalf("incident-response %+v, want the registration's capacity 10", c)
	}
	if c := h.capability("ir-firm", "ir-firm/network-restoration"); c.Capacity != 2 || c.Free != 2 || len(c.Regions) != 0 {
		t.Fatalf("network-restoration %+v", c)
	}
	// medtech-devices (midwest) is now matched for incident-response.
	req := h.ok("medtech-devices", kReq, request(amber, nil, need("incident-response", 6))).GetId()
	if r := h.show("medtech-devices", req).Request; len(r.Audience) != 1 || r.Audience[0] != "ir-firm" {
		t.Fatalf("audience %v, want ir-firm (its registration serves the midwest)", r.Audience)
	}
	o := h.ok("ir-firm", kOff, offer(req, "incident-response", 6)).GetId()
	h.ok("medtech-devices", kDec, decide(aAccept, "", o, 0))
	// Removing the package stops new offers; the booking stands.
	h.ok("ir-firm", kCap, &tocsinv1.AidCapability{Id: "ir-firm/incident-response", Removed: true})
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.State != CapabilityRemoved || c.Type != "incident-response" {
		t.Fatalf("removed package shows as %+v", c)
	}
	req2 := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 1))).GetId()
	if r := h.show("st-mary", req2).Request; len(r.Audience) != 0 {
		t.Fatalf("audience %v after ir-firm removed its only incident-response package", r.Audience)
	}
	h.refused("ir-firm", kCap, &tocsinv1.AidCapability{Id: "downtime-staffing/ehr-downtime-support", Type: "ehr-downtime-support", Capacity: 1}, cNotAllowed)
	h.refused("st-mary", kCap, &tocsinv1.AidCapability{Type: "forensics", Capacity: 1}, cNotAllowed)
	h.refused("ir-firm", kCap, &tocsinv1.AidCapability{Type: "juggling", Capacity: 1}, tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD)
	h.refused("ir-firm", kCap, &tocsinv1.AidCapability{Id: "ir-firm/none", Removed: true}, cUnknownRef)
	var other CapabilitiesReply
	if err := h.ask("st-mary", OpCapabilities, CapabilitiesQuery{Responder: "ir-firm"}, &other); codes.Of(err) != cNotAllowed {
		t.Fatalf("st-mary listed ir-firm's capabilities: %v", err)
	}
	if err := h.ask("hhs-liaison", OpCapabilities, CapabilitiesQuery{Responder: "ir-firm"}, &other); err != nil || len(other.Capabilities) != 3 {
		t.Fatalf("the liaison lists %d of ir-firm's capabilities (%v), want 3", len(other.Capabilities), err)
	}
}

// TestExpiryAndListing: a request past its expiry is expired by the
// service, the requester and the responders with offers are told, and
// list filters open and own requests.
func TestExpiryAndListing(t *testing.T) {
	h := newHarness(t, Options{ExpiryCheck: 100 * time.Millisecond})
	short := request(amber, nil, need("forensics", 1))
	short.ExpiresAt = timestamppb.New(time.Now().Add(2 * time.Second))
	req := h.ok("st-mary", kReq, short).GetId()
	o := h.ok("ir-firm", kOff, offer(req, "forensics", 1)).GetId()
	long := h.ok("riverside", kReq, request(amber, nil, need("incident-response", 1))).GetId()
	testwait.For(t, 60*time.Second, "the request to expire", testwait.True(func() bool { return h.show("st-mary", req).Request.State == RequestExpired }))
	r := h.show("st-mary", req).Request
	last := r.Timeline[len(r.Timeline)-1]
	if last.Action != ActExpire || !strings.HasPrefix(last.By, "svc-aid-") {
		t.Fatalf("last step %+v, want an expiry signed by a service", last)
	}
	if !h.inboxIDs("st-mary")[last.ID] || !h.inboxIDs("ir-firm")[last.ID] {
		t.Fatal("the requester and the responder with an offer were not told of the expiry")
	}
	h.refused("st-mary", kDec, decide(aAccept, "", o, 0), cIllegal)
	var all, open, mine ListReply
	for _, q := range []struct {
		q   ListQuery
		out *ListReply
	}{{ListQuery{}, &all}, {ListQuery{Open: true}, &open}, {ListQuery{Mine: true}, &mine}} {
		if err := h.ask("ir-firm", OpList, q.q, q.out); err != nil {
			t.Fatal(err)
		}
	}
	if len(all.Requests) != 2 || len(open.Requests) != 1 || open.Requests[0].ID != long || len(mine.Requests) != 1 || mine.Requests[0].ID != req {
		t.Fatalf("ir-firm lists all %d, open %v, mine %v", len(all.Requests), ids(open.Requests), ids(mine.Requests))
	}
	if all.Requests[0].ID != long || all.Requests[0].Timeline != nil {
		t.Fatal("list is not newest first without timelines")
	}
}

func ids(rs []*Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestSituationBoard: status reports through the router make the regional
// board, worst first, each verified.
func TestSituationBoard(t *testing.T) {
	h := newHarness(t, Options{})
	h.send(0, "st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DIVERTING, Systems: []string{"ehr", "pacs"}, Note: "ambulances to riverside"})
	h.send(0, "riverside", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_NORMAL})
	h.send(0, "acme-pharma", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DEGRADED})
	var b Board
	testwait.For(t, 60*time.Second, "the northeast board", testwait.True(func() bool {
		return h.ask("hilltop", "situation", SituationQuery{}, &b) == nil && len(b.Facilities) == 2
	}))
	if b.Region != "northeast" || b.Facilities[0].Member != "st-mary" || b.Facilities[0].State != "diverting" ||
		strings.Join(b.Facilities[0].Systems, ",") != "ehr,pacs" || b.Facilities[0].KeyID != h.signers["st-mary"].KeyID() || b.Facilities[1].Member != "riverside" {
		t.Fatalf("board %+v", b)
	}
	if err := h.ask("hilltop", "situation", SituationQuery{Region: "mid-atlantic"}, &b); err != nil || len(b.Facilities) != 1 || b.Facilities[0].State != "degraded" {
		t.Fatalf("mid-atlantic board %+v, %v", b, err)
	}
}
