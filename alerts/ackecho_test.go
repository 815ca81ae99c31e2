package alerts

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// TestAnAcceptedAckIsEchoedToTheMembersOwnInbox: riverside's accepted
// acknowledgement, the envelope it signed byte for byte, reaches both of
// two connections watching riverside's inbox, once, under the receipt's
// own message id; nothing reaches any other inbox. A delivered receipt
// and a refused ack are not echoed. Who acknowledged (by) is kept in
// REACH.
func TestAnAcceptedAckIsEchoedToTheMembersOwnInbox(t *testing.T) {
	h := newHarness(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alert := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.93", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", alert.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("alert: %v", o.GetState())
	}
	watch := func(subject string) chan *nats.Msg {
		ch := make(chan *nats.Msg, 16)
		nc := testcluster.Connect(t, h.c.ClientURL())
		if _, err := nc.ChanSubscribe(subject, ch); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	first, second, every := watch(subjects.Inbox("riverside")), watch(subjects.Inbox("riverside")), watch(subjects.InboxAll)

	delivered := h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
		&tocsinv1.Receipt{RefId: alert.GetId(), State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED})
	refused := h.publish("acme-pharma", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
		&tocsinv1.Receipt{RefId: alert.GetId(), State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED})
	if o := h.outcome("acme-pharma", refused.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
		t.Fatalf("ack of another sector's alert: %v", o.GetState())
	}
	ack := h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
		&tocsinv1.Receipt{RefId: alert.GetId(), State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED, By: "J. Ortiz, SOC lead"})
	if o := h.outcome("riverside", ack.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("ack: %v", o.GetState())
	}
	want, err := proto.Marshal(ack)
	if err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]chan *nats.Msg{"first": first, "second": second, "every inbox": every} {
		select {
		case m := <-ch:
			if m.Subject != subjects.Inbox("riverside") || !bytes.Equal(m.Data, want) || m.Header.Get(jetstream.MsgIDHeader) != subjects.RoutedMsgID(ack.GetId(), "inbox.riverside") {
				t.Fatalf("%s connection: %s %q, want riverside's own signed ack", name, m.Subject, m.Header.Get(jetstream.MsgIDHeader))
			}
		case <-ctx.Done():
			t.Fatalf("%s connection: no echo of the ack", name)
		}
	}
	// The outcome is recorded after the echo: anything else would be here by now.
	for name, ch := range map[string]chan *nats.Msg{"first": first, "second": second, "every inbox": every} {
		select {
		case m := <-ch:
			t.Fatalf("%s connection: a second message on %s", name, m.Subject)
		case <-time.After(200 * time.Millisecond):
		}
	}
	envs, _ := h.messages(subjects.StreamInbox, subjects.InboxAll)
	var echoed []string
	for _, env := range envs {
		if env.GetKind() == tocsinv1.Kind_KIND_RECEIPT {
			echoed = append(echoed, env.GetId())
		}
	}
	if len(echoed) != 1 || echoed[0] != ack.GetId() || delivered.GetId() == ack.GetId() {
		t.Fatalf("receipts in INBOX: %v, want only the ack %s", echoed, ack.GetId())
	}
	reach, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	var rec records.Reach
	testwait.For(t, 10*time.Second, "riverside's reach record", func() error {
		r, ok, err := records.ReceiptOf(ctx, reach, alert.GetId(), "riverside")
		if err == nil && !ok {
			err = errors.New("none yet")
		}
		rec = r
		return err
	})
	if rec.By != "J. Ortiz, SOC lead" || rec.Acknowledged.IsZero() {
		t.Fatalf("reach record %+v, want acknowledged by J. Ortiz", rec)
	}
}

// TestAnAckNamesItsMessagesSenderAndWho: with ref_sender the outcome is
// read under that sender's key: the right sender is accepted, another
// member's name is refused as unknown-reference even though the message
// was routed to the member. A by over 128 bytes and a ref_sender that is
// not a member id are refused as invalid-field, saying what to do.
func TestAnAckNamesItsMessagesSenderAndWho(t *testing.T) {
	h := newHarness(t, 1, Options{})
	alert := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.94", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", alert.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("alert: %v", o.GetState())
	}
	ack := tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED
	for name, c := range map[string]struct {
		rc       *tocsinv1.Receipt
		code     tocsinv1.RejectionCode
		saying   string
		accepted bool
	}{
		"the right sender": {rc: &tocsinv1.Receipt{RefId: alert.GetId(), State: ack, RefSender: "st-mary"}, accepted: true},
		"another sender": {rc: &tocsinv1.Receipt{RefId: alert.GetId(), State: ack, RefSender: "acme-pharma"},
			code: tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, saying: "of acme-pharma was never routed to riverside"},
		"not a member id": {rc: &tocsinv1.Receipt{RefId: alert.GetId(), State: ack, RefSender: "St Mary"},
			code: tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, saying: "leave it empty"},
		"a by too long": {rc: &tocsinv1.Receipt{RefId: alert.GetId(), State: ack, By: strings.Repeat("x", 129)},
			code: tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, saying: "at most 128 bytes, this one 129"},
		"a by of 128 bytes": {rc: &tocsinv1.Receipt{RefId: alert.GetId(), State: ack, By: strings.Repeat("x", 128)}, accepted: true},
	} {
		env := h.publish("riverside", subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT, c.rc)
		o := h.outcome("riverside", env.GetId())
		if c.accepted {
			if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
				t.Errorf("%s: outcome %v %v, want accepted", name, o.GetState(), o.GetRejection().GetProblems())
			}
			continue
		}
		p := o.GetRejection().GetProblems()
		if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED || len(p) == 0 || p[0].GetCode() != c.code || !strings.Contains(p[0].GetMessage(), c.saying) {
			t.Errorf("%s: outcome %v %v, want %v saying %q", name, o.GetState(), p, c.code, c.saying)
		}
	}
}
