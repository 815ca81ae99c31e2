package mutualaid

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
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
	restore := testcluster.DropBucket(t, h.js, broker.BucketRouted)
	env := h.send(-1, "st-mary", kReq, request(amber, nil, need("incident-response", 1)))
	waitFor(t, func() bool {
		recs, _ := deadletter.List(ctx, h.js)
		return slices.ContainsFunc(recs, func(r deadletter.Record) bool { return r.Consumer == "aid" && r.MsgID == env.GetId() })
	}, "the aid message's dead letter")
	restore()
	if o := h.outcome("st-mary", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("once ROUTED is back: outcome %v, want routed", o.GetState())
	}
	waitFor(t, func() bool { n, err := deadletter.Count(ctx, h.js); return err == nil && n == 0 }, "the decided dead letter's record to be purged")
	info, err := h.js.Consumer(ctx, subjects.StreamIngest, "aid")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := info.CachedInfo().Config; cfg.MaxDeliver != -1 || len(cfg.BackOff) != 3 || cfg.BackOff[2] != 2*time.Second {
		t.Fatalf("aid consumer: MaxDeliver %d, BackOff %v; want -1 and the retries' BackOff", cfg.MaxDeliver, cfg.BackOff)
	}
}
