package alerts

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/alerts/tlp"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
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
	if err := h.js.DeleteKeyValue(ctx, broker.BucketRouted); err != nil {
		t.Fatal(err)
	}
	env, err := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("198.51.100.7", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	cause := codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP, "tlp 42 is not a TLP 2.0 level")
	if err := r.rejectMsg(ctx, "st-mary", subjects.Ingest(subjects.KindAlert, "st-mary"), env, cause); err == nil {
		t.Fatal("the outcome could not be recorded, yet rejectMsg reported success: the message would be acknowledged")
	}
	if got := codes.Name(h.rejection("st-mary", env.GetId()).GetProblems()[0].GetCode()); got != "unknown-tlp" {
		t.Fatalf("rejection %q, want unknown-tlp", got)
	}
}
