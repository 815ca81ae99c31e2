package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestAnAgentMigratesItsPerSectorConsumer: a member of a running cluster
// read patient-care through an earlier version's per-sector consumer,
// which acknowledged the first alert and holds the next two. Its agent
// asks for its one SECTORS consumer, which the service creates from the
// old consumer's ack floor: the agent writes the two it had not
// acknowledged, not the first again, and the old consumer is gone.
func TestAnAgentMigratesItsPerSectorConsumer(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	legacy := auth.LegacySectorConsumer("riverside", "patient-care")
	old, err := w.JS.CreateConsumer(ctx, subjects.StreamSectors, jetstream.ConsumerConfig{
		Durable: legacy, Description: "reads tocsin.sector.patient-care.> for riverside", FilterSubject: "tocsin.sector.patient-care.>",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: auth.ConsumerAckWait, MaxDeliver: -1, MaxAckPending: auth.ConsumerMaxAckPending, Replicas: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	envs := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, []proto.Message{alert("one", "patient-care"), alert("two", "patient-care"), alert("three", "patient-care")}...)
	w.Routed("st-mary", envs)
	msg, err := old.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// The routers on three nodes may store the three copies in any order:
	// the one acknowledged is the first the old consumer handed out.
	var acked tocsinv1.Envelope
	if err := proto.Unmarshal(msg.Data(), &acked); err != nil || acked.GetId() == "" {
		t.Fatalf("the copy the old consumer handed out: %v (id %q)", err, acked.GetId())
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	w.start(w.agentOptions("riverside", filepath.Join(dir, "state"), j))
	count := func() int { return len(jsonlRecords(t, filepath.Join(dir, "alerts.jsonl"))) }
	testwait.For(t, 30*time.Second, "the two alerts not acknowledged", testwait.True(func() bool { return count() >= 2 }))
	if _, err := w.JS.Consumer(ctx, subjects.StreamSectors, legacy); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("the per-sector consumer after the agent's first connection: %v, want gone", err)
	}
	more := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alert("four", "patient-care"))
	w.Routed("st-mary", more)
	testwait.For(t, 30*time.Second, "the fourth alert", testwait.True(func() bool { return count() >= 3 }))
	for _, r := range jsonlRecords(t, filepath.Join(dir, "alerts.jsonl")) {
		if r.ID == acked.GetId() {
			t.Fatalf("the alert the old consumer had acknowledged was written again")
		}
	}
}

// TestASectorJoinedReachesTheRunningAgent: a member joins a sector while
// its agent runs: its consumer's filters change in place and the agent,
// whose copy of the directory predates the change, writes the new
// sector's alert (it refreshes the directory on a sector it does not
// know) rather than quarantining it as wrong-sector.
func TestASectorJoinedReachesTheRunningAgent(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	opts := w.agentOptions("riverside", filepath.Join(dir, "state"), j)
	a, _ := w.start(opts)
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	m, err := w.Registry.Update(ctx, "riverside", func(m *tocsinv1.Member) error {
		m.Sectors = append(m.Sectors, "health-it")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.EnsureConsumers(ctx, w.JS, m); err != nil {
		t.Fatal(err)
	}
	envs := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alert("for health-it", "health-it"))
	w.Routed("st-mary", envs)
	testwait.For(t, 30*time.Second, "the health-it alert in the sink", testwait.True(func() bool {
		for _, r := range jsonlRecords(t, filepath.Join(dir, "alerts.jsonl")) {
			if r.ID == envs[0].GetId() {
				return true
			}
		}
		return false
	}))
	if q, err := os.ReadFile(QuarantinePath(opts.StateDir)); err == nil && len(q) > 0 {
		t.Fatalf("quarantined: %s", q)
	}
}
