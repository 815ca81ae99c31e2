package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
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
	waitFor(t, 30*time.Second, "the agent to be live", func() bool { return a.HTTPState().State == "live" })

	const n = 6
	var envs []*tocsinv1.Envelope
	for i := range n {
		e := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alert("one at a time", "patient-care"))
		w.Routed("st-mary", e)
		envs = append(envs, e...)
		waitFor(t, 30*time.Second, "the alert in the JSONL file", func() bool {
			return len(jsonlRecords(t, filepath.Join(dir, "siem", "alerts.jsonl"))) > i
		})
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
	kv, err := w.JS.KeyValue(ctx, broker.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		for {
			if _, err := kv.Get(ctx, alerts.ReachKey(e.GetId(), member)); err == nil {
				break
			} else if ctx.Err() != nil {
				t.Fatalf("no delivered receipt of %s from %s: %v", e.GetId(), member, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
