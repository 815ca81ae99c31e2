package mutualaid

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestFiftyConcurrentAccepts: ten responders with 3 units each make 5
// offers of 1 unit each on a request for 20; the requester accepts all 50
// at once, published through the three nodes, with a service on each. The
// request is filled exactly, no responder is booked beyond its capacity,
// and every loser is told why.
func TestFiftyConcurrentAccepts(t *testing.T) {
	const responders, perResponder, capacity, needed = 10, 5, 3, 20
	var extra []*tocsinv1.Member
	for i := range responders {
		extra = append(extra, responder(fmt.Sprintf("resp-%02d", i), "incident-response", capacity))
	}
	h := newHarness(t, Options{}, extra...)
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", needed))).GetId()
	var offers []string
	for _, m := range extra {
		for range perResponder {
			offers = append(offers, h.ok(m.GetId(), kOff, offer(req, "incident-response", 1)).GetId())
		}
	}

	var wg sync.WaitGroup
	accepts := make([]*tocsinv1.Envelope, len(offers))
	for i, o := range offers {
		wg.Go(func() {
			env, err := h.signers["st-mary"].Seal(kDec, decide(aAccept, req, o, 0))
			if err != nil {
				t.Error(err)
				return
			}
			h.publishOn(i%3, subjects.Ingest(subjects.KindAid, "st-mary"), env)
			accepts[i] = env
		})
	}
	wg.Wait()
	var won, lost atomic.Int32
	whyLost := map[string]int{}
	for _, env := range accepts {
		o := h.outcome("st-mary", env.GetId())
		switch o.GetState() {
		case tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED:
			won.Add(1)
		case tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED:
			lost.Add(1)
			p := o.GetRejection().GetProblems()[0]
			switch p.GetCode() {
			case cOverFill, cNoCapacity, cIllegal:
				whyLost[p.GetCode().String()]++
			default:
				t.Fatalf("an accept lost with %v: %s", p.GetCode(), p.GetMessage())
			}
			if p.GetMessage() == "" {
				t.Fatal("a loser was not told why")
			}
		}
	}
	t.Logf("%d accepts won, %d lost: %v", won.Load(), lost.Load(), whyLost)
	if won.Load() != needed || lost.Load() != int32(len(offers))-needed {
		t.Fatalf("%d accepts won and %d lost, want %d and %d", won.Load(), lost.Load(), needed, len(offers)-needed)
	}
	r := h.show("st-mary", req).Request
	if r.State != RequestFilled || r.Needs[0].Accepted != needed {
		t.Fatalf("request %s with %d accepted, want filled with exactly %d", r.State, r.Needs[0].Accepted, needed)
	}
	accepted := map[string]uint32{}
	for _, o := range r.Offers {
		if o.State == OfferAccepted {
			accepted[o.Responder] += o.Accepted
		}
	}
	var total uint32
	for _, m := range extra {
		c := h.capability(m.GetId(), m.GetId()+"/incident-response")
		if c.Booked > capacity || c.Booked != accepted[m.GetId()] {
			t.Fatalf("%s has %d units booked for %d accepted, capacity %d", m.GetId(), c.Booked, accepted[m.GetId()], capacity)
		}
		total += c.Booked
	}
	if total != needed {
		t.Fatalf("%d units booked in all, want %d", total, needed)
	}
	if n := countAudit(h, req, ActAccept); n != needed {
		t.Fatalf("AID_AUDIT holds %d accepts, want %d", n, needed)
	}
}

// TestNodeLostBetweenTheTwoWrites: the node handling an accept dies after
// staging the atomic batch (request and capacity) and before committing
// it. Nothing of it is visible; another node takes the message over and
// books the capacity exactly once.
func TestNodeLostBetweenTheTwoWrites(t *testing.T) {
	h := newHarness(t, Options{AckWait: 2 * time.Second})
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 2))).GetId()
	o := h.ok("ir-firm", kOff, offer(req, "incident-response", 2)).GetId()

	staged, resume := make(chan int, 3), make(chan struct{})
	var fired atomic.Bool
	for i, rs := range h.svc {
		hook := func() error {
			if !fired.CompareAndSwap(false, true) {
				return nil
			}
			staged <- i
			<-resume
			return errors.New("the node died between the writes")
		}
		rs.s.beforeCommit.Store(&hook)
	}
	h.send(1, "st-mary", kDec, decide(aAccept, "", o, 0))
	var dead int
	select {
	case dead = <-staged:
	case <-time.After(60 * time.Second):
		t.Fatal("no service staged the accept")
	}
	r := h.show("st-mary", req).Request
	if r.Needs[0].Accepted != 0 || r.offer(o).State != OfferOffered {
		t.Fatalf("the staged accept is visible before its commit: %+v", r.Needs)
	}
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.Booked != 0 {
		t.Fatalf("capacity booked before the commit: %+v", c)
	}
	h.c.StopNode(dead)
	close(resume)
	h.svc[dead].stop()

	testwait.For(t, 60*time.Second, "another node to take over the accept", testwait.True(func() bool { return h.show("st-mary", req).Request.State == RequestFilled }))
	r = h.show("st-mary", req).Request
	if r.Needs[0].Accepted != 2 || r.offer(o).Accepted != 2 || countEvents(r, ActAccept) != 1 {
		t.Fatalf("after the takeover: needs %+v, offer %+v, %d accepts", r.Needs, r.offer(o), countEvents(r, ActAccept))
	}
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.Booked != 2 {
		t.Fatalf("ir-firm has %d units booked, want 2 (once)", c.Booked)
	}
	if n := countAudit(h, req, ActAccept); n != 1 {
		t.Fatalf("AID_AUDIT holds %d accepts, want 1", n)
	}
}

// TestNodeStoppedMidLifecycle: a node (and its service) is stopped with
// requests in flight; the others carry on, the expiry still fires, and
// once the node is back nothing is missing.
func TestNodeStoppedMidLifecycle(t *testing.T) {
	h := newHarness(t, Options{ExpiryCheck: 100 * time.Millisecond, AckWait: 2 * time.Second})
	a := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 2), need("ehr-downtime-support", 1))).GetId()
	ir := h.ok("ir-firm", kOff, offer(a, "incident-response", 2)).GetId()
	dt := h.ok("downtime-staffing", kOff, offer(a, "ehr-downtime-support", 1)).GetId()
	h.ok("st-mary", kDec, decide(aAccept, "", ir, 0))
	short := request(amber, nil, need("forensics", 1))
	short.ExpiresAt = timestamppb.New(time.Now().Add(4 * time.Second))
	b := h.ok("riverside", kReq, short).GetId()

	for _, victim := range []int{1, 0} {
		h.c.StopNode(victim)
		h.svc[victim].stop()
		switch victim {
		case 1:
			h.ok("st-mary", kDec, decide(aAccept, "", dt, 0))
			h.ok("ir-firm", kDec, decide(aMobilise, "", ir, 0))
			testwait.For(t, 60*time.Second, "the expiry with a node down", testwait.True(func() bool { return h.show("riverside", b).Request.State == RequestExpired }))
		case 0:
			h.ok("ir-firm", kDec, decide(aArrive, "", ir, 0))
		}
		if err := h.c.RestartNode(victim); err != nil {
			t.Fatal(err)
		}
		h.waitCaughtUp(victim)
		h.startService(victim)
	}
	for _, d := range []struct {
		who string
		d   *tocsinv1.AidDecision
	}{{"ir-firm", decide(aDemobilise, "", ir, 0)}, {"downtime-staffing", decide(aMobilise, "", dt, 0)},
		{"downtime-staffing", decide(aDemobilise, "", dt, 0)}, {"st-mary", decide(aClose, a, "", 0)}} {
		h.ok(d.who, kDec, d.d)
	}
	r := h.show("st-mary", a).Request
	if r.State != RequestClosed || len(r.Timeline) != 11 {
		t.Fatalf("request %s with %d steps, want closed with 11: %+v", r.State, len(r.Timeline), r.Timeline)
	}
	for _, req := range []struct{ requester, id string }{{"st-mary", a}, {"riverside", b}} {
		r := h.show(req.requester, req.id).Request
		if n := len(h.messages(subjects.StreamAidAudit, RequestAuditAll(req.id))); n != len(r.Timeline) {
			t.Fatalf("request %s: %d audited steps for %d in the timeline", req.id, n, len(r.Timeline))
		}
	}
	for _, c := range []struct{ who, id string }{{"ir-firm", "ir-firm/incident-response"}, {"downtime-staffing", "downtime-staffing/ehr-downtime-support"}} {
		if got := h.capability(c.who, c.id); got.Booked != 0 {
			t.Fatalf("%s still has %d units booked", c.id, got.Booked)
		}
	}
}

func countEvents(r *Request, a Action) int {
	n := 0
	for _, e := range r.Timeline {
		if e.Action == a {
			n++
		}
	}
	return n
}

func countAudit(h *harness, req string, a Action) int {
	return len(h.messages(subjects.StreamAidAudit, subjects.Prefix+".aid.req."+req+"."+string(a)+".*"))
}

// waitCaughtUp waits until restarted node i is current with the meta group
// and holds every stream, current: only then may another node go down
// without a stream losing its quorum.
func (h *harness) waitCaughtUp(i int) {
	h.t.Helper()
	srv := h.c.Node(i).Server()
	testwait.For(h.t, 60*time.Second, fmt.Sprintf("node %d to catch up", i), testwait.True(func() bool {
		if !srv.JetStreamIsCurrent() {
			return false
		}
		for _, st := range broker.StreamNames() {
			if !srv.JetStreamIsStreamAssigned("$G", st) || !srv.JetStreamIsStreamCurrent("$G", st) {
				return false
			}
		}
		return h.c.StreamsCurrent("$G", broker.StreamNames()) == nil
	}))
}

// TestProvisioningAgainDoesNotBreakAccepts: provisioning the buckets again
// (a node starting) turns atomic batches off on the AID stream; the next
// accept turns them on again and goes through.
func TestProvisioningAgainDoesNotBreakAccepts(t *testing.T) {
	h := newHarness(t, Options{})
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 2))).GetId()
	o := h.ok("ir-firm", kOff, offer(req, "incident-response", 2)).GetId()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := broker.Provision(ctx, h.js, h.c.Replicas()); err != nil {
		t.Fatal(err)
	}
	st, err := h.js.Stream(ctx, aidStream)
	if err != nil {
		t.Fatal(err)
	}
	if st.CachedInfo().Config.AllowAtomicPublish {
		t.Log("provisioning kept atomic batches on: broker.Provision now sets them")
	}
	h.ok("st-mary", kDec, decide(aAccept, "", o, 0))
	if c := h.capability("ir-firm", "ir-firm/incident-response"); c.Booked != 2 {
		t.Fatalf("ir-firm has %d units booked, want 2", c.Booked)
	}
}
