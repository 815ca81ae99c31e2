package mutualaid

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestInboxCopiesCarryTheRequestsMarks: the copy of an offer in the
// requester's inbox says the request's TLP, urgency and exercise mark in
// its headers, which the offer itself does not carry: the member's agent
// records them (records.HeaderTLP, HeaderLane, HeaderExercise).
func TestInboxCopiesCarryTheRequestsMarks(t *testing.T) {
	h := newHarness(t, Options{})
	req := h.ok("st-mary", kReq, request(amber, nil, need("incident-response", 1))).GetId()
	off := h.ok("ir-firm", kOff, offer(req, "incident-response", 1)).GetId()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := h.js.OrderedConsumer(ctx, subjects.StreamInbox, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjects.Inbox("st-mary")}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("the offer %s never reached st-mary's inbox: %v", off, err)
		}
		if m.Headers().Get(jetstream.MsgIDHeader) != subjects.RoutedMsgID(off, "inbox.st-mary") {
			continue
		}
		hd := m.Headers()
		if hd.Get(records.HeaderTLP) != "amber" || hd.Get(records.HeaderLane) != "flash" || hd.Get(records.HeaderExercise) != "true" {
			t.Fatalf("the offer's inbox copy says tlp %q, lane %q, exercise %q; want the request's amber, flash, true",
				hd.Get(records.HeaderTLP), hd.Get(records.HeaderLane), hd.Get(records.HeaderExercise))
		}
		return
	}
}
