package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/agent/paging/pdtest"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/testworld"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestAnAckMadeElsewhereStopsTheAgentsPage: the member acknowledges a
// paged flash alert somewhere else (tocsin ack, the console, another
// agent: here a receipt published as the member). The router echoes it to
// the member's inbox, and this agent's pager acknowledges the incident;
// the echo is neither written to the sinks nor quarantined. So does the
// echo of an acknowledgement made in the console (sealed by a node's
// service key for the member). A receipt of another member in the inbox is
// quarantined.
func TestAnAckMadeElsewhereStopsTheAgentsPage(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	a, pd, state, sink := w.startPaging("bridge")

	flash := alert("LockBit on the EHR", "patient-care")
	flash.Lane = tocsinv1.Lane_LANE_FLASH
	e := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, flash)
	w.Routed("st-mary", e)
	testwait.For(t, 30*time.Second, "the page", testwait.True(func() bool { return len(pd.Events()) >= 1 }))

	ack := w.Publish("bridge", tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: e[0].GetId(),
		State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED, By: "J. Ortiz"})
	w.Routed("bridge", ack)
	testwait.For(t, 30*time.Second, "the acknowledgement at PagerDuty", testwait.True(func() bool { return len(pd.Events()) == 2 }))
	if ev := pd.Events()[1]; ev.EventAction != "acknowledge" || ev.DedupKey != e[0].GetId() {
		t.Fatalf("after the echo PagerDuty got %+v", ev)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	toInbox := func(env *tocsinv1.Envelope) {
		data, _ := proto.Marshal(env)
		msg := nats.NewMsg(subjects.Inbox("bridge"))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		if _, err := w.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}

	// An acknowledgement made in the console is sealed by the node's
	// service key for bridge (via console); its echo (put in the inbox
	// here: the test world's routers know no relays) settles the page too.
	second := alert("LockBit on PACS", "patient-care")
	second.Lane = tocsinv1.Lane_LANE_FLASH
	e2 := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, second)
	w.Routed("st-mary", e2)
	testwait.For(t, 30*time.Second, "the second page", testwait.True(func() bool { return len(pd.Events()) >= 3 }))
	relayed, err := w.Signers[testworld.ServiceID].Seal(tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: e2[0].GetId(),
		State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED}, envelope.OnBehalfOf("bridge"), envelope.WithVia("console"))
	if err != nil {
		t.Fatal(err)
	}
	toInbox(relayed)
	testwait.For(t, 30*time.Second, "the console's acknowledgement at PagerDuty", testwait.True(func() bool { return len(pd.Events()) == 4 }))
	if ev := pd.Events()[3]; ev.EventAction != "acknowledge" || ev.DedupKey != e2[0].GetId() {
		t.Fatalf("after the console's echo PagerDuty got %+v", ev)
	}

	// A receipt of st-mary's in bridge's inbox (only the router can put
	// one there, and it never does) is quarantined.
	foreign, err := w.Signers["st-mary"].Seal(tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: e[0].GetId(), State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED})
	if err != nil {
		t.Fatal(err)
	}
	toInbox(foreign)
	testwait.For(t, 30*time.Second, "the foreign receipt quarantined", testwait.True(func() bool {
		q, _ := os.ReadFile(QuarantinePath(state))
		return strings.Contains(string(q), foreign.GetId())
	}))
	q, _ := os.ReadFile(QuarantinePath(state))
	if strings.Contains(string(q), ack[0].GetId()) || strings.Contains(string(q), relayed.GetId()) || strings.Count(string(q), "\n") != 1 {
		t.Fatalf("quarantine:\n%s\nwant only the foreign receipt", q)
	}
	recs := jsonlRecords(t, sink)
	if len(recs) != 2 || recs[0].ID != e[0].GetId() || recs[1].ID != e2[0].GetId() {
		t.Fatalf("JSONL sink: %d records, want only the two alerts", len(recs))
	}

	// The agent's own receipt names the alert's sender, which it knows.
	rid, err := a.Receipt(e[0].GetId(), tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED, "")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := w.JS.OrderedConsumer(ctx, subjects.StreamIngest, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjects.Ingest(subjects.KindReceipt, "bridge")}})
	if err != nil {
		t.Fatal(err)
	}
	var rc tocsinv1.Receipt
	for rc.GetRefId() == "" {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("the agent's receipt %s in INGEST: %v", rid, err)
		}
		if env, err := envelope.Decode(m.Data(), 0); err == nil && env.GetId() == rid {
			if err := proto.Unmarshal(env.GetPayload(), &rc); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rc.GetRefSender() != "st-mary" || rc.GetState() != tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED {
		t.Fatalf("the agent's receipt %v, want actioned with ref_sender st-mary", &rc)
	}
}

// startPaging runs an agent for member with a JSONL sink and a PagerDuty
// pager (in process) until the test ends, and waits until it is live; it
// returns the agent, the PagerDuty endpoint, the agent's state directory
// and its JSONL file.
func (w *world) startPaging(member string) (a *Agent, pd *pdtest.Server, state, sink string) {
	t := w.t
	t.Helper()
	pd = pdtest.New("KEY-" + member)
	t.Cleanup(pd.Close)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pd.key")
	if err := os.WriteFile(keyFile, []byte("KEY-"+member+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state, sink = filepath.Join(dir, "state"), filepath.Join(dir, "alerts.jsonl")
	cfg := Config{State: state, Sinks: []string{"jsonl:" + sink},
		PagingConfig: PagingConfig{Pager: "pagerduty:" + pd.EnqueueURL(), PagerRoutingKeyFile: keyFile}}
	built, err := cfg.Options(zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if built.Pager == nil {
		t.Fatal("--pager built no pager")
	}
	opts := w.agentOptions(member, cfg.State, built.Sinks...)
	opts.Pager = built.Pager
	a, _ = w.start(opts)
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	return a, pd, state, sink
}
