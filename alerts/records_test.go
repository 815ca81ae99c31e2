package alerts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/alerts/tlp"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestReceiptsNeverHoldAnAlertBack: receipts have their own consumer. With
// it paused and receipts waiting, an alert is still routed; once it
// resumes, every receipt is recorded.
func TestReceiptsNeverHoldAnAlertBack(t *testing.T) {
	h := newHarness(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	records := "router-records"
	waitFor(t, func() bool { _, err := h.js.Consumer(ctx, subjects.StreamIngest, records); return err == nil }, "the router's records consumer")
	if _, err := h.js.PauseConsumer(ctx, subjects.StreamIngest, records, time.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Log("paused")
	ref := envelope.NewID()
	senders := []string{"riverside", "lakeside-childrens", "ir-firm", "hhs-liaison"}
	for i := range 100 {
		h.publish(senders[i%len(senders)], subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
			&tocsinv1.Receipt{RefId: ref, State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED})
	}
	a := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.77", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", a.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the alert behind 100 waiting receipts: %v", o.GetState())
	}
	reach, err := h.js.KeyValue(ctx, broker.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reach.Get(ctx, ReachKey(ref, senders[0])); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("a receipt was recorded while the records consumer was paused (%v): the test proves nothing", err)
	}
	t.Log("routed; resuming")
	if _, err := h.js.ResumeConsumer(ctx, subjects.StreamIngest, records); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		for _, s := range senders {
			if _, err := reach.Get(ctx, ReachKey(ref, s)); err != nil {
				return false
			}
		}
		return true
	}, "every receipt recorded after the consumer resumed")
}
