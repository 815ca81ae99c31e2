package mutualaid

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// The mutual-aid service decides as the router does: an aid message that
// keeps failing for a transient reason (ROUTED gone) is dead-lettered
// past its retries and kept, not dropped; it is applied once the cause
// is gone, and its record purged.
func TestAidMessagePastTheRetriesIsDeadLetteredAndKept(t *testing.T) {
	h := newHarness(t, Options{Retry: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, DeadLetterEvery: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	restore := testcluster.DropBucket(t, h.js, records.BucketRouted)
	env := h.send(-1, "st-mary", kReq, request(amber, nil, need("incident-response", 1)))
	testwait.For(t, 60*time.Second, "the aid message's dead letter", testwait.True(func() bool {
		recs, _ := deadletter.List(ctx, h.js)
		return slices.ContainsFunc(recs, func(r deadletter.Record) bool { return r.Consumer == "aid" && r.MsgID == env.GetId() })
	}))
	restore()
	if o := h.outcome("st-mary", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("once ROUTED is back: outcome %v, want routed", o.GetState())
	}
	testwait.For(t, 60*time.Second, "the decided dead letter's record to be purged", testwait.True(func() bool { n, err := deadletter.Count(ctx, h.js); return err == nil && n == 0 }))
	info, err := h.js.Consumer(ctx, subjects.StreamIngest, "aid")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := info.CachedInfo().Config; cfg.MaxDeliver != -1 || len(cfg.BackOff) != 3 || cfg.BackOff[2] != 2*time.Second {
		t.Fatalf("aid consumer: MaxDeliver %d, BackOff %v; want -1 and the retries' BackOff", cfg.MaxDeliver, cfg.BackOff)
	}
}

// The rejection reaches its sender before the REJECTED outcome is
// recorded, as the router's does: a redelivery of a message that has an
// outcome is dropped quietly, so a service that died in between would
// leave the sender's rejections without it. Here the outcome cannot be
// recorded, and the rejection is there all the same.
func TestAidRejectionIsSentBeforeTheOutcomeIsRecorded(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testcluster.DropBucket(t, h.js, records.BucketRouted)
	env, err := h.signers["st-mary"].Seal(kReq, request(amber, nil, need("incident-response", 1)))
	if err != nil {
		t.Fatal(err)
	}
	cause := codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a request needs at least one need")
	if err := h.svc[0].s.rejectMsg(ctx, "st-mary", subjects.Ingest(subjects.KindAid, "st-mary"), env, cause); err == nil {
		t.Fatal("the outcome could not be recorded, yet rejectMsg reported success: the message would be acknowledged")
	}
	envs := h.messages(subjects.StreamRejections, subjects.Rejection("st-mary"))
	if len(envs) != 1 {
		t.Fatalf("%d rejections sent to st-mary, want 1", len(envs))
	}
}
