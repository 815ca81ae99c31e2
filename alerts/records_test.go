package alerts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// TestReceiptsNeverHoldAnAlertBack: receipts have their own consumer. With
// it paused and receipts waiting, an alert is still routed; once it
// resumes, every receipt is recorded.
func TestReceiptsNeverHoldAnAlertBack(t *testing.T) {
	h := newHarness(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	recordsConsumer := "router-records"
	// The router creates it as it starts, which a loaded machine slows
	// (30 s was once not enough in make test).
	testwait.For(t, 90*time.Second, "the router's records consumer", func() error {
		_, err := h.js.Consumer(ctx, subjects.StreamIngest, recordsConsumer)
		return err
	})
	if _, err := h.js.PauseConsumer(ctx, subjects.StreamIngest, recordsConsumer, time.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Log("paused")
	first := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.76", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", first.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the alert the receipts are for: %v", o.GetState())
	}
	ref := first.GetId()
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
	reach, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := records.ReceiptOf(ctx, reach, ref, senders[0]); ok || err != nil {
		t.Fatalf("a receipt was recorded while the records consumer was paused (%v): the test proves nothing", err)
	}
	t.Log("routed; resuming")
	if _, err := h.js.ResumeConsumer(ctx, subjects.StreamIngest, recordsConsumer); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		for _, s := range senders {
			if _, ok, _ := records.ReceiptOf(ctx, reach, ref, s); !ok {
				return false
			}
		}
		return true
	}, "every receipt recorded after the consumer resumed")
}

// TestOneReceiptCoversAGroup: a receipt with more_ref_ids records every
// message it names; a later receipt for one of them merges; a receipt over
// the limit or naming a bad id is rejected with invalid-field and records
// nothing.
func TestOneReceiptCoversAGroup(t *testing.T) {
	h := newHarness(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reach, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	// The acknowledged one was routed to riverside: an ack is checked.
	routed := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.90", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", routed.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the alert to acknowledge: %v", o.GetState())
	}
	var refs []string
	for i, sender := range []string{"lakeside-childrens", "", "st-mary"} {
		if sender == "" {
			refs = append(refs, routed.GetId())
			continue
		}
		a := h.publish(sender, subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
			alertOf(bundle(fmt.Sprintf("192.0.2.%d", 95+i), tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
		if o := h.outcome(sender, a.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			t.Fatalf("alert of %s: %v", sender, o.GetState())
		}
		refs = append(refs, a.GetId())
	}
	h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
		&tocsinv1.Receipt{RefId: refs[0], MoreRefIds: refs[1:], State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED})
	h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
		&tocsinv1.Receipt{RefId: refs[1], State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED})
	read := func(ref string) (records.Reach, bool) {
		r, ok, _ := records.ReceiptOf(ctx, reach, ref, "riverside")
		return r, ok
	}
	waitFor(t, func() bool {
		for _, ref := range refs {
			if r, ok := read(ref); !ok || r.Delivered.IsZero() {
				return false
			}
		}
		r, _ := read(refs[1])
		return !r.Acknowledged.IsZero()
	}, "every message of the group delivered, the second acknowledged")
	if r, _ := read(refs[0]); !r.Acknowledged.IsZero() {
		t.Fatalf("the first message shows acknowledged though only the second was: %+v", r)
	}

	tooMany := make([]string, records.MaxReceiptRefs)
	for i := range tooMany {
		tooMany[i] = envelope.NewID()
	}
	for name, rc := range map[string]*tocsinv1.Receipt{
		"over the limit": {RefId: envelope.NewID(), MoreRefIds: tooMany},
		"a bad id":       {RefId: envelope.NewID(), MoreRefIds: []string{"../etc"}},
	} {
		rc.State = tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED
		env := h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT, rc)
		rej := h.rejection("riverside", env.GetId())
		if len(rej.GetProblems()) == 0 || rej.GetProblems()[0].GetCode() != tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD {
			t.Fatalf("%s: rejection %v, want invalid-field", name, rej.GetProblems())
		}
		if _, ok := read(rc.GetRefId()); ok {
			t.Fatalf("%s: a rejected receipt recorded its first message", name)
		}
	}
}

// TestAnAckIsCheckedAgainstWhatWasRoutedToTheMember: an acknowledgement
// (or actioned receipt) of an id never routed, or of a message routed only
// to another sector, is refused as unknown-reference, with a REJECTED
// outcome for the receipt (tocsin ack waits for it) and nothing in REACH;
// an ack of a message of the member's own sector is recorded, with a
// ROUTED outcome. Delivered receipts are not looked up.
func TestAnAckIsCheckedAgainstWhatWasRoutedToTheMember(t *testing.T) {
	h := newHarness(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reach, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	mine := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.91", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	pharmaOnly := h.publish("acme-pharma", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.92", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"pharma"}, nil))
	for _, a := range []struct{ sender, id string }{{"st-mary", mine.GetId()}, {"acme-pharma", pharmaOnly.GetId()}} {
		if o := h.outcome(a.sender, a.id); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			t.Fatalf("alert of %s: %v", a.sender, o.GetState())
		}
	}
	for name, c := range map[string]struct {
		ref   string
		state tocsinv1.ReceiptState
	}{
		"an id never routed":             {envelope.NewID(), tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED},
		"another sector's alert":         {pharmaOnly.GetId(), tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED},
		"another sector's alert, action": {pharmaOnly.GetId(), tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED},
	} {
		env := h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: c.ref, State: c.state})
		rej := h.rejection("riverside", env.GetId())
		if len(rej.GetProblems()) == 0 || rej.GetProblems()[0].GetCode() != tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE ||
			!strings.Contains(rej.GetProblems()[0].GetMessage(), "never routed to riverside") {
			t.Fatalf("%s: rejection %v, want unknown-reference", name, rej.GetProblems())
		}
		if o := h.outcome("riverside", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
			t.Fatalf("%s: the receipt's outcome is %v, want rejected", name, o.GetState())
		}
		if r, _, err := records.ReceiptOf(ctx, reach, c.ref, "riverside"); err != nil || !r.Acknowledged.IsZero() || !r.Actioned.IsZero() {
			t.Fatalf("%s: a refused ack was recorded (%+v, %v)", name, r, err)
		}
	}
	env := h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
		&tocsinv1.Receipt{RefId: mine.GetId(), State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED})
	if o := h.outcome("riverside", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("an ack of a message of its own sector: outcome %v, want routed", o.GetState())
	}
	testwait.For(t, 10*time.Second, "the ack in REACH", func() error {
		if r, _, err := records.ReceiptOf(ctx, reach, mine.GetId(), "riverside"); err != nil || r.Acknowledged.IsZero() {
			return fmt.Errorf("riverside's receipts %+v (%v)", r, err)
		}
		return nil
	})
}
