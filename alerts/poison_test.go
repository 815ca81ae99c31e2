package alerts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/worstcase"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// Issue 16's poison alert: 3,500 indicators with second-precision times,
// 7,000 problems. Listing them all made a rejection larger than the max
// payload, which was taken for a transient failure and retried every
// second for ever: the sender never heard. It, and every other worst case,
// is refused within seconds with the first problems and their count, and
// acknowledged: nothing is left for the router to retry.
func TestPoisonAlertsAreRejectedWithTheirProblemCount(t *testing.T) {
	h := newHarness(t, 1, Options{})
	counts := map[string]uint32{}
	for _, shape := range worstcase.Shapes() {
		start := time.Now()
		env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
			alertOf(shape.Bundle, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
		o := h.outcome("st-mary", env.GetId())
		took := time.Since(start)
		if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
			t.Fatalf("%s: outcome %v, want rejected", shape.Name, o.GetState())
		}
		rej := h.rejection("st-mary", env.GetId())
		if !proto.Equal(rej, o.GetRejection()) {
			t.Errorf("%s: the outcome does not record the rejection sent", shape.Name)
		}
		if n := len(rej.GetProblems()); n > codes.MaxProblems || n == 0 || int(rej.GetProblemCount()) < n || proto.Size(rej) > codes.MaxRejectionBytes {
			t.Errorf("%s: %d problems, count %d, %d bytes: want at most %d problems, all counted, within %d bytes",
				shape.Name, n, rej.GetProblemCount(), proto.Size(rej), codes.MaxProblems, codes.MaxRejectionBytes)
		}
		counts[shape.Name] = rej.GetProblemCount()
		t.Logf("%s: rejected in %s, %d of %d problems, %d bytes; first: %s", shape.Name, took.Round(time.Millisecond),
			len(rej.GetProblems()), rej.GetProblemCount(), proto.Size(rej), rej.GetProblems()[0].GetMessage())
	}
	if n := counts["poison-second-timestamps"]; n != 7000 {
		t.Errorf("3,500 indicators with second-precision times: the rejection counts %d problems, want 7,000", n)
	}
	// Each outcome is written before its message is acked: the acks follow.
	testwait.For(t, 10*time.Second, "every message decided (none pending or redelivered)", func() error {
		if r := h.consumerInfo(DefaultDurable); r.NumAckPending != 0 || r.NumRedelivered != 0 {
			return fmt.Errorf("the router's consumer has %d messages pending and %d redelivered", r.NumAckPending, r.NumRedelivered)
		}
		return nil
	})
	if r := h.consumerInfo(DefaultDurable); r.Config.MaxDeliver != -1 || len(r.Config.BackOff) == 0 {
		t.Errorf("the router's consumer: MaxDeliver %d, BackOff %v; want -1 and a BackOff", r.Config.MaxDeliver, r.Config.BackOff)
	}
}

// consumerInfo reads a durable consumer of INGEST, polling through a
// leader change.
func (h *harness) consumerInfo(name string) *jetstream.ConsumerInfo {
	h.t.Helper()
	var info *jetstream.ConsumerInfo
	testwait.For(h.t, 20*time.Second, "consumer "+name, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := h.js.Consumer(ctx, subjects.StreamIngest, name)
		if err == nil {
			info, err = c.Info(ctx)
		}
		return err
	})
	return info
}

// An alert that just fits in INGEST, but whose routed copies (the same
// bytes with the routing headers) do not fit in the max payload, can never
// be routed: it is refused as oversized at once, not retried.
func TestAlertWhoseCopiesCannotFitIsRefused(t *testing.T) {
	h := newHarness(t, 1, Options{})
	a := alertOf(bundle("203.0.113.90", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil)
	env, err := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT, a)
	if err != nil {
		t.Fatal(err)
	}
	a.Title += strings.Repeat("x", broker.DefaultMaxPayload-80-proto.Size(env)) // the ingest message's header is about 50 bytes
	env = h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, a)
	t.Logf("envelope of %d bytes", proto.Size(env))
	o := h.outcome("st-mary", env.GetId())
	if p := o.GetRejection().GetProblems(); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED || len(p) != 1 || p[0].GetCode() != tocsinv1.RejectionCode_REJECTION_CODE_OVERSIZED {
		t.Fatalf("outcome %v %v, want rejected oversized", o.GetState(), p)
	}
	t.Logf("refused: %s", o.GetRejection().GetProblems()[0].GetMessage())
	// The outcome is written before the message is acked: the ack follows.
	testwait.For(t, 10*time.Second, "the router's consumer to have decided the alert", func() error {
		if info := h.consumerInfo(DefaultDurable); info.NumAckPending != 0 || info.NumRedelivered != 0 {
			return fmt.Errorf("%d pending, %d redelivered", info.NumAckPending, info.NumRedelivered)
		}
		return nil
	})
}
