package alerts

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// Killing a node whose router holds messages mid-flight loses nothing and
// delivers nothing twice to a sector subject: its unacked messages are
// redelivered to the routers on the other nodes.
func TestNodeLossMidFlightLosesNothingAndDuplicatesNothing(t *testing.T) {
	h := newHarness(t, 3, Options{AckWait: 2 * time.Second})
	senders := []string{"st-mary", "riverside", "hilltop", "ehr-vendor"}
	const n = 240
	ids := make([]*tocsinv1.Envelope, 0, n)
	for i := range n {
		s := senders[i%len(senders)]
		b := bundle(fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256+1), tlp.Green)
		ids = append(ids, h.publish(s, subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
			alertOf(b, tlp.Green, tocsinv1.Lane_LANE_ROUTINE, []string{"patient-care"}, nil)))
		if i == n/3 {
			h.c.StopNode(0) // its router is mid-flight
		}
	}
	for _, env := range ids {
		if o := h.outcome(env.GetSender(), env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			t.Fatalf("%s: %v", env.GetId(), o.GetState())
		}
	}
	envs, _ := h.messages(subjects.StreamSectors, subjects.SectorAll("patient-care"))
	seen := map[string]int{}
	for _, e := range envs {
		seen[e.GetId()]++
	}
	for _, env := range ids {
		if seen[env.GetId()] != 1 {
			t.Errorf("alert %s is on the sector subject %d times, want once", env.GetId(), seen[env.GetId()])
		}
	}
	if len(envs) != n {
		t.Fatalf("sector holds %d alerts, want %d", len(envs), n)
	}
}

// TestLostPubAckIsNotWaitedForForever: when the PubAcks of an alert's
// copies never come (here a silent subscriber holds the sector subjects in
// place of the stream, as a stream leader lost with its node leaves a
// publish unanswered), the router, on the JetStream context every Tocsin
// service uses (broker.JetStream), gives up after jsctx.AsyncPubAckTimeout
// instead of holding the alert, and its sender's later messages, until the
// process ends; the copies are sent again on the redelivery.
func TestLostPubAckIsNotWaitedForForever(t *testing.T) {
	h := newHarness(t, 0, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.js.DeleteStream(ctx, subjects.StreamSectors); err != nil {
		t.Fatal(err)
	}
	nc := testcluster.Connect(t, h.c.Node(0).ClientURL())
	if _, err := nc.Subscribe(subjects.SectorAll("patient-care"), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js, err := jsctx.JetStream(testcluster.Connect(t, h.c.Node(0).ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(ctx, Deps{JS: js, Registry: h.reg, Verifier: envelope.NewVerifier(h.reg, envelope.VerifyOptions{}), Signer: h.signers["svc-test"]},
		Options{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = r.publishCopies(ctx, []byte("x"), envelope.NewID(), "alert", "urgent", tlp.Green, destinations{sectors: []string{"patient-care"}})
	took := time.Since(start)
	if !errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
		t.Fatalf("publishing to a subject nobody acknowledges: %v after %s, want the PubAck wait to run out", err, took)
	}
	if took > 2*jsctx.AsyncPubAckTimeout {
		t.Fatalf("gave up after %s, want about %s", took, jsctx.AsyncPubAckTimeout)
	}
}
