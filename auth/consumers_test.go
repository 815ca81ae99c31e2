package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

func TestOneSectorsConsumerForAllOfAMembersSectors(t *testing.T) {
	m := &tocsinv1.Member{Id: "st-mary", Sectors: []string{"patient-care", "health-it"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	cs := auth.Consumers(m)
	if len(cs) != 3 || cs[0].Name != "st-mary-sectors" || !slices.Equal(cs[0].Filters, []string{"tocsin.sector.patient-care.>", "tocsin.sector.health-it.>"}) {
		t.Fatalf("consumers %+v, want st-mary-sectors with both sectors, inbox, rejections", cs)
	}
	cfg := auth.ConsumerConfig("st-mary", cs[0], 0)
	if cfg.FilterSubject != "" || len(cfg.FilterSubjects) != 2 {
		t.Fatalf("config filters %q %q", cfg.FilterSubject, cfg.FilterSubjects)
	}
	if c := auth.Consumers(&tocsinv1.Member{Id: "x", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}); len(c) != 2 || c[0].Stream != subjects.StreamInbox {
		t.Fatalf("a member without sectors: %+v, want no SECTORS consumer", c)
	}
}

// legacyConsumer creates the per-sector consumer an earlier version gave
// member for sector, as it configured it.
func legacyConsumer(ctx context.Context, t *testing.T, js jetstream.JetStream, member, sector string) jetstream.Consumer {
	t.Helper()
	f := subjects.SectorAll(sector)
	c, err := js.CreateConsumer(ctx, subjects.StreamSectors, jetstream.ConsumerConfig{
		Durable: auth.LegacySectorConsumer(member, sector), Description: "reads " + f + " for " + member, FilterSubject: f,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: auth.ConsumerAckWait, MaxDeliver: -1, MaxAckPending: auth.ConsumerMaxAckPending, Replicas: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPerSectorConsumersMigrate: a member of a running cluster whose
// per-sector consumers (an earlier version's) hold messages not yet
// acknowledged gets its one SECTORS consumer from the lowest of their ack
// floors: every message either had not acknowledged is delivered, and the
// old consumers are gone. Another member's consumer that bears an old
// name ("c" in sector "x-sectors", member "c-x") is left alone.
func TestPerSectorConsumersMigrate(t *testing.T) {
	c := testcluster.Start(t)
	js := testcluster.JetStream(t, c.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := &tocsinv1.Member{Id: "a", Sectors: []string{"patient-care", "health-it"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	pc := legacyConsumer(ctx, t, js, "a", "patient-care")
	hit := legacyConsumer(ctx, t, js, "a", "health-it")
	publish := func(subject string, n int) {
		for i := range n {
			if _, err := js.Publish(ctx, subject, fmt.Appendf(nil, "%s %d", subject, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	ack := func(cons jetstream.Consumer, n int) {
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for msg := range batch.Messages() {
			if err := msg.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("tocsin.sector.patient-care.urgent", 5) // 1-5
	publish("tocsin.sector.health-it.routine", 2)   // 6-7
	ack(pc, 5)                                      // floor 5
	ack(hit, 1)                                     // floor 6
	publish("tocsin.sector.patient-care.urgent", 1) // 8: "... urgent 0" again
	if err := auth.EnsureConsumers(ctx, js, m); err != nil {
		t.Fatal(err)
	}
	for _, s := range m.GetSectors() {
		if _, err := js.Consumer(ctx, subjects.StreamSectors, auth.LegacySectorConsumer("a", s)); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("per-sector consumer of %s after the migration: %v, want gone", s, err)
		}
	}
	cons, err := js.Consumer(ctx, subjects.StreamSectors, auth.SectorsConsumer("a"))
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	batch, err := cons.Fetch(100, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for msg := range batch.Messages() {
		meta, _ := msg.Metadata()
		got = append(got, meta.Sequence.Stream)
		_ = msg.Ack()
	}
	if !slices.Equal(got, []uint64{6, 7, 8}) {
		t.Fatalf("after the migration the member read stream sequences %v, want 6 7 8 (from the lowest floor, 5, on)", got)
	}

	// "c" in x-sectors had "c-x-sectors"; member "c-x" took that name
	// (its filters now its own): c's migration does not delete it.
	legacyConsumer(ctx, t, js, "c", "x-sectors")
	cx := &tocsinv1.Member{Id: "c-x", Sectors: []string{"pharma"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	if err := auth.EnsureConsumers(ctx, js, cx); err != nil {
		t.Fatal(err)
	}
	if err := auth.EnsureConsumers(ctx, js, &tocsinv1.Member{Id: "c", Sectors: []string{"x-sectors"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}); err != nil {
		t.Fatal(err)
	}
	if o, err := js.Consumer(ctx, subjects.StreamSectors, auth.SectorsConsumer("c-x")); err != nil || o.CachedInfo().Config.FilterSubject != "tocsin.sector.pharma.>" {
		t.Fatalf("c-x's consumer after c's migration: %v", err)
	}

	// Without per-sector consumers (a fresh member) it reads from the start.
	fresh := &tocsinv1.Member{Id: "b", Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	if err := auth.EnsureConsumers(ctx, js, fresh); err != nil {
		t.Fatal(err)
	}
	fc, err := js.Consumer(ctx, subjects.StreamSectors, auth.SectorsConsumer("b"))
	if err != nil || fc.CachedInfo().NumPending != 6 {
		t.Fatalf("a fresh member's consumer: %v, pending %d, want all 6 patient-care copies", err, fc.CachedInfo().NumPending)
	}
}

// TestSectorsChangeInPlace: a member's sectors changing updates its
// consumer's filters in place: what it acknowledged stays acknowledged.
func TestSectorsChangeInPlace(t *testing.T) {
	c := testcluster.Start(t)
	js := testcluster.JetStream(t, c.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := &tocsinv1.Member{Id: "st-mary", Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	if err := auth.EnsureConsumers(ctx, js, m); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"tocsin.sector.patient-care.urgent", "tocsin.sector.health-it.urgent"} {
		if _, err := js.Publish(ctx, s, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.Consumer(ctx, subjects.StreamSectors, auth.SectorsConsumer("st-mary"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	m.Sectors = []string{"patient-care", "health-it"}
	if err := auth.EnsureConsumers(ctx, js, m); err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Config.FilterSubjects) != 2 || info.AckFloor.Stream < 1 || info.NumPending != 1 {
		t.Fatalf("after adding health-it: filters %q, ack floor %d, pending %d; want both sectors, the floor kept, the health-it copy pending",
			info.Config.FilterSubjects, info.AckFloor.Stream, info.NumPending)
	}
	if msg, err = cons.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil || msg.Subject() != "tocsin.sector.health-it.urgent" {
		t.Fatalf("next after the change: %v", err)
	}
}
