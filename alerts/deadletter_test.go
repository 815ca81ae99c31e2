package alerts

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// A message that keeps failing for a transient reason (here ROUTED is
// gone: no outcome can be read or written) is retried on the schedule,
// then dead-lettered: a DEADLETTER record, an OPS alarm, an observed
// dead-letter, and the message kept in INGEST, unacknowledged, not
// dropped. Once the cause is gone it is routed at its next try and its
// record is purged.
func TestTransientFailurePastTheRetriesIsDeadLetteredAndKept(t *testing.T) {
	var dead atomic.Int64
	opts := Options{Retry: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, DeadLetterEvery: 2 * time.Second,
		Observe: func(_ string, _ time.Duration, err error) {
			if errors.Is(err, deadletter.ErrDeadLettered) {
				dead.Add(1)
			}
		}}
	h := newHarness(t, 1, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	restore := testcluster.DropBucket(t, h.js, records.BucketRouted)
	env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("203.0.113.77", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))

	rec := h.deadLetter(DefaultDurable, env.GetId())
	if rec.Subject != subjects.Ingest(subjects.KindAlert, "st-mary") || rec.Deliveries < 3 || rec.Error == "" {
		t.Errorf("record %+v: want the ingest subject, 3 deliveries or more and the error", rec)
	}
	alarms, _ := h.rawMessages(subjects.StreamOps, deadletter.OpsSubject("st-mary"))
	if len(alarms) != 1 || !strings.Contains(string(alarms[0]), `"alarm":"dead-letter"`) || !strings.Contains(string(alarms[0]), env.GetId()) {
		t.Errorf("OPS alarms %q, want one dead-letter alarm naming the message", alarms)
	}
	if n, err := deadletter.Count(ctx, h.js); err != nil || n != 1 {
		t.Errorf("dead letters counted: %d, %v; want 1", n, err)
	}
	if info := h.consumerInfo(DefaultDurable); info.NumAckPending != 1 {
		t.Errorf("the router's consumer holds %d unacknowledged messages, want the dead letter kept (1)", info.NumAckPending)
	}
	if dead.Load() == 0 {
		t.Error("the router did not report the dead letter to its observer (metrics)")
	}

	restore()
	if o := h.outcome("st-mary", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("once ROUTED is back: outcome %v, want routed", o.GetState())
	}
	testwait.For(t, 30*time.Second, "the decided dead letter's record to be purged", testwait.True(func() bool { n, err := deadletter.Count(ctx, h.js); return err == nil && n == 0 }))
	testwait.For(t, 30*time.Second, "the dead letter to be acknowledged", testwait.True(func() bool { return h.consumerInfo(DefaultDurable).NumAckPending == 0 }))
}

// deadLetter polls until consumer's dead letter of message id is recorded.
func (h *harness) deadLetter(consumer, id string) deadletter.Record {
	h.t.Helper()
	var found deadletter.Record
	testwait.For(h.t, 30*time.Second, "the dead letter of "+id, testwait.True(func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		recs, _ := deadletter.List(ctx, h.js)
		for _, r := range recs {
			if r.Consumer == consumer && r.MsgID == id {
				found = r
				return true
			}
		}
		return false
	}))
	return found
}
