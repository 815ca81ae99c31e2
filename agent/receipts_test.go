package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestLiveReceiptsCoverSeveralGroups: alerts arriving one at a time, each
// written as its own group, are covered by one delivered receipt per
// receiptEvery, not one each; every alert still gets its reach record.
func TestLiveReceiptsCoverSeveralGroups(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	dir := t.TempDir()
	j, s, wh := sinks(t, dir, newHook(t, "s3cret"))
	opts := w.agentOptions("bridge", filepath.Join(dir, "state"), j, s, wh)
	a, stop := w.start(opts)
	defer stop()
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))

	const n = 6
	var envs []*tocsinv1.Envelope
	for i := range n {
		e := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alert("one at a time", "patient-care"))
		w.Routed("st-mary", e)
		envs = append(envs, e...)
		testwait.For(t, 30*time.Second, "the alert in the JSONL file", testwait.True(func() bool {
			return len(jsonlRecords(t, filepath.Join(dir, "siem", "alerts.jsonl"))) > i
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitReceipted(ctx, t, w, envs, "bridge")
	got := receiptsSent(ctx, t, w, "bridge")
	t.Logf("%d alerts written one group each, %d receipts", n, got)
	if got == 0 || got > n-2 {
		t.Fatalf("%d receipts for %d alerts written one at a time; want them shared (at most %d)", got, n, n-2)
	}
}

// TestHeldMessagesNeverStallTheConsumer: with receipts for advisories
// only, a backlog with an advisory every 50 messages is caught up without
// waiting for receiptEvery. Only the messages that owe a receipt are held
// until it is sealed; holding every message of a group that owed one filled
// the consumer's MaxAckPending (1,024) with alerts and stopped the catch-up
// until the receipts were due.
func TestHeldMessagesNeverStallTheConsumer(t *testing.T) {
	every := receiptEvery
	receiptEvery = time.Hour // a stall outlasts the test
	defer func() { receiptEvery = every }()
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	dir := t.TempDir()
	j, _, _ := sinks(t, dir, newHook(t, "s3cret"))
	opts := w.agentOptions("bridge", filepath.Join(dir, "state"), j)
	opts.Receipts = ReceiptsAdvisories
	a, stop := w.start(opts) // creates the consumers
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	stop()

	const rounds, alertsPerRound = 24, 49
	for range rounds {
		adv := w.Publish("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "patch the VPN appliance",
			Lane: tocsinv1.Lane_LANE_ROUTINE, Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, RecommendedAction: "patch now"})
		w.Routed("hhs-liaison", adv)
		var payloads []proto.Message
		for range alertsPerRound {
			payloads = append(payloads, alert("in the backlog", "patient-care"))
		}
		w.Routed("st-mary", w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, payloads...))
	}
	const total = rounds * (1 + alertsPerRound)
	j, _, _ = sinks(t, dir, newHook(t, "s3cret"))
	opts.Sinks = []Sink{j}
	start := time.Now()
	_, stop = w.start(opts)
	defer stop()
	testwait.For(t, 90*time.Second, "the backlog in the JSONL file", testwait.True(func() bool {
		return len(jsonlRecords(t, filepath.Join(dir, "siem", "alerts.jsonl"))) >= total
	}))
	took := time.Since(start)
	t.Logf("caught up %d messages (%d advisories) in %s", total, rounds, took.Round(time.Millisecond))
	// Held alerts came back after the consumers' ack wait, delivered again.
	for _, r := range jsonlRecords(t, filepath.Join(dir, "siem", "alerts.jsonl")) {
		if r.Delivery != 1 {
			t.Fatalf("%s written on delivery %d after %s: held past the ack wait", r.ID, r.Delivery, took.Round(time.Millisecond))
		}
	}
	if took >= auth.ConsumerAckWait {
		t.Fatalf("the catch-up took %s, past the consumers' ack wait (%s): it waited for held messages", took, auth.ConsumerAckWait)
	}
}

// receiptsSent counts the receipts member has sent, on INGEST.
func receiptsSent(ctx context.Context, t *testing.T, w *world, member string) uint64 {
	t.Helper()
	ingest, err := w.JS.Stream(ctx, subjects.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	subject := subjects.Ingest(subjects.KindReceipt, member)
	info, err := ingest.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// waitReceipted waits (until ctx ends) for member's delivered receipt of
// every one of envs in REACH.
func waitReceipted(ctx context.Context, t *testing.T, w *world, envs []*tocsinv1.Envelope, member string) {
	t.Helper()
	kv, err := w.JS.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		testwait.Until(ctx, t, fmt.Sprintf("a delivered receipt of %s from %s", e.GetId(), member), func() error {
			_, ok, err := records.ReceiptOf(ctx, kv, e.GetId(), member)
			if err == nil && !ok {
				err = errors.New("not yet")
			}
			return err
		})
	}
}
