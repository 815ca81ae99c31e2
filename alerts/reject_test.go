package alerts

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// The rejection reaches its sender before the REJECTED outcome is
// recorded. A redelivery of a message that has an outcome is dropped
// quietly, so a router that dies after recording the outcome and before
// sending the rejection would leave the sender without one (found by the
// chaos harness): here the outcome cannot be recorded, and the rejection
// is there all the same while the message stays unacknowledged.
func TestRejectionIsSentBeforeTheOutcomeIsRecorded(t *testing.T) {
	h := newHarness(t, 0, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := New(ctx, Deps{JS: h.js, Registry: h.reg, Verifier: envelope.NewVerifier(h.reg, envelope.VerifyOptions{}), Signer: h.signers["svc-test"]},
		Options{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.js.DeleteKeyValue(ctx, records.BucketRouted); err != nil {
		t.Fatal(err)
	}
	env, err := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("198.51.100.7", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	cause := codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP, "tlp 42 is not a TLP 2.0 level")
	if err := r.rejectMsg(ctx, "st-mary", subjects.Ingest(subjects.KindAlert, "st-mary"), env, cause, 0); err == nil {
		t.Fatal("the outcome could not be recorded, yet rejectMsg reported success: the message would be acknowledged")
	}
	if got := codes.Name(h.rejection("st-mary", env.GetId()).GetProblems()[0].GetCode()); got != "unknown-tlp" {
		t.Fatalf("rejection %q, want unknown-tlp", got)
	}
}

// A replay whose first delivery fails before its rejection is sent (here
// REJECTIONS is gone for a moment) is told on a redelivery: only a
// redelivery of the message that was handled stays quiet (found by the
// chaos harness, where lookups time out while a node is down).
func TestReplayIsToldAfterAFailedFirstDelivery(t *testing.T) {
	h := newHarness(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ok := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("203.0.113.9", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", ok.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the original: %v", o.GetState())
	}
	rejections, err := h.js.Stream(ctx, subjects.StreamRejections)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rejections.CachedInfo().Config
	if err := h.js.DeleteStream(ctx, subjects.StreamRejections); err != nil {
		t.Fatal(err)
	}
	router, err := h.js.Consumer(ctx, subjects.StreamIngest, "router")
	if err != nil {
		t.Fatal(err)
	}
	deliveries := func() uint64 {
		info, err := router.Info(ctx)
		if err != nil {
			return 0
		}
		return info.Delivered.Consumer
	}
	before := deliveries()
	h.publishRaw(subjects.Ingest(subjects.KindAlert, "st-mary"), "replay-of-"+ok.GetId(), mustMarshal(t, ok))
	testwait.For(t, 30*time.Second, "the router to get the replay a second time", testwait.True(func() bool { return deliveries() >= before+2 }))
	if _, err := h.js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got := codes.Name(h.rejection("st-mary", ok.GetId()).GetProblems()[0].GetCode()); got != "replay" {
		t.Fatalf("rejection %q, want replay", got)
	}
}

// A copy of an envelope under another message id takes no outcome: judged
// an ack wait after its first delivery, it is refused (its message id must
// be the envelope id), and the message that carries the id, published
// after it, is still routed. (A copy that recorded REJECTED for the id
// made its original a handled message, never routed; the chaos harness
// found a replay racing its original.)
func TestCopyUnderAnotherMessageIDTakesNoOutcome(t *testing.T) {
	h := newHarness(t, 1, Options{AckWait: 2 * time.Second})
	env, err := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("203.0.113.10", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	h.publishRaw(subjects.Ingest(subjects.KindAlert, "st-mary"), "copy-of-"+env.GetId(), mustMarshal(t, env))
	if got := codes.Name(h.rejection("st-mary", env.GetId()).GetProblems()[0].GetCode()); got != "malformed" {
		t.Fatalf("the copy: rejection %q, want malformed (message id)", got)
	}
	h.publishEnv("st-mary", subjects.KindAlert, env)
	if o := h.outcome("st-mary", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the original after its copy: outcome %v, want routed", o.GetState())
	}
}
