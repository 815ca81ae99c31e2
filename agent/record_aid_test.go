package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestAidRecordsThroughTheAgent: an offer and a decision in the
// requester's inbox, with the mutual-aid service's headers, become records
// in snake_case with the request's TLP, urgency and exercise mark, and
// their lines validate against the schema (jsonlRecords checks each).
func TestAidRecordsThroughTheAgent(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := w.start(w.agentOptions("st-mary", filepath.Join(dir, "state"), j))
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))

	copyOf := func(sender string, kind tocsinv1.Kind, p proto.Message) string {
		t.Helper()
		env, err := w.Signers[sender].Seal(kind, p)
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(subjects.Inbox("st-mary"))
		if msg.Data, err = proto.Marshal(env); err != nil {
			t.Fatal(err)
		}
		msg.Header.Set(jetstream.MsgIDHeader, subjects.RoutedMsgID(env.GetId(), "inbox.st-mary"))
		msg.Header.Set(records.HeaderTLP, "amber")
		msg.Header.Set(records.HeaderLane, "flash")
		msg.Header.Set(records.HeaderExercise, "true")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := w.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
		return env.GetId()
	}
	const req = "01JDQ5K9X0ABCDEFGHJKMNPQR0"
	offer := copyOf("ir-firm", tocsinv1.Kind_KIND_AID_OFFER, &tocsinv1.AidOffer{RequestId: req, Capability: "incident-response", Quantity: 2, Eta: durationpb.New(4 * time.Hour)})
	mobilise := copyOf("ir-firm", tocsinv1.Kind_KIND_AID_DECISION, &tocsinv1.AidDecision{RequestId: req, OfferId: offer, Action: tocsinv1.AidAction_AID_ACTION_MOBILISE})

	path := filepath.Join(dir, "alerts.jsonl")
	testwait.For(t, 30*time.Second, "both aid records", testwait.True(func() bool { return len(jsonlRecords(t, path)) >= 2 }))
	got := map[string]Record{}
	for _, r := range jsonlRecords(t, path) {
		got[r.ID] = r
	}
	o, m := got[offer], got[mobilise]
	for _, r := range []Record{o, m} {
		if r.Kind != "aid" || r.TLP != "amber" || r.Lane != "flash" || r.Severity != "critical" || !r.Exercise || r.Aid == nil || r.Aid.RequestID != req {
			t.Errorf("aid record %s: kind %q tlp %q lane %q severity %q exercise %v aid %+v", r.ID, r.Kind, r.TLP, r.Lane, r.Severity, r.Exercise, r.Aid)
		}
	}
	if o.Aid == nil || o.Aid.Type != "offer" || o.Aid.ETASeconds == nil || *o.Aid.ETASeconds != 14400 {
		t.Errorf("the offer's aid: %+v", o.Aid)
	}
	if m.Aid == nil || m.Aid.Type != "decision" || m.Aid.Action != "mobilise" || m.Aid.OfferID != offer {
		t.Errorf("the decision's aid: %+v", m.Aid)
	}
}
