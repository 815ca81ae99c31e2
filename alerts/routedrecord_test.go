package alerts

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/pattern"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// routedHeaders are the key and batch id of every record of the ROUTED
// stream, in order.
func (h *harness) routedRecords() (keys, batches []string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := h.js.OrderedConsumer(ctx, records.Stream(records.BucketRouted), jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for len(keys) < int(info.NumPending) {
		batch, err := c.Fetch(int(info.NumPending)-len(keys), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			h.t.Fatal(err)
		}
		for m := range batch.Messages() {
			keys = append(keys, m.Subject()[len(records.KeyPrefix(records.BucketRouted)):])
			batches = append(batches, m.Headers().Get("Nats-Batch-Id"))
		}
	}
	return keys, batches
}

// TestARoutedAlertsRecordIsOneAtomicBatch: a one-sector, one-indicator
// alert's dedupe claim, indicator index and outcome are three records of
// one atomic batch in ROUTED (one replicated write), nothing is written to
// DEDUPE or SIGHTINGS, and the copy follows.
func TestARoutedAlertsRecordIsOneAtomicBatch(t *testing.T) {
	h := newHarness(t, 1, Options{})
	b := bundle("198.51.100.61", tlp.Green)
	env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, alertOf(b, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("outcome %v", o)
	}
	waitFor(t, func() bool {
		envs, _, err := h.tryMessages(subjects.StreamSectors, subjects.SectorAll("patient-care"))
		return err == nil && len(envs) == 1
	}, "the copy in patient-care")
	keys, batches := h.routedRecords()
	var mine []string
	batch := ""
	for i, k := range keys {
		if k == migratedKey {
			continue
		}
		mine = append(mine, k)
		if batch == "" {
			batch = batches[i]
		}
		if batches[i] == "" || batches[i] != batch {
			t.Errorf("record %s is in batch %q, want all in one batch", k, batches[i])
		}
	}
	if len(mine) != 3 || mine[2] != records.OutcomeKey("st-mary", env.GetId()) || mine[1] != indicatorKey(indicatorID(t, b)) {
		t.Fatalf("ROUTED holds %v, want the claim, the index and the outcome", mine)
	}
	for _, st := range []string{records.Stream(records.BucketDedupe), records.Stream(records.BucketSightings)} {
		s, err := h.js.Stream(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.CachedInfo().State.Msgs; n != 0 {
			t.Errorf("%s holds %d records, want none", st, n)
		}
	}
}

// TestLegacyRecordsAreMigrated: dedupe claims in DEDUPE and indicator
// index records in SIGHTINGS written before the record moved to ROUTED are
// copied there when a router starts: a re-publish of a pattern set a
// legacy claim holds is a duplicate of the legacy alert, and a sighting of
// a legacy-indexed indicator is counted for it.
func TestLegacyRecordsAreMigrated(t *testing.T) {
	h := newHarness(t, 1, Options{}) // it finds nothing to migrate
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The harness's router copies in the background: the legacy records
	// are written only once it has said it is done, or it may copy them.
	testwait.For(t, 30*time.Second, "the harness router's migration", func() error {
		routed, err := h.js.KeyValue(ctx, records.BucketRouted)
		if err == nil {
			_, err = routed.Get(ctx, migratedKey)
		}
		return err
	})
	b := bundle("198.51.100.62", tlp.Green)
	v, err := stix.New(stix.Options{PatternCheck: func(p string) error { _, err := pattern.Parse(p); return err }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.ValidateBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	legacy := firstAlert{AlertID: "legacy-alert", Originator: "st-mary", PatternKey: dedupeKey(res.Patterns, true) /* alertOf: an exercise */, TLP: "green"}
	legacy.Indicator, legacy.Pattern = leadOf(res.Patterns)
	dedupe, err := h.js.KeyValue(ctx, records.BucketDedupe)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dedupe.Create(ctx, legacyClaimPrefix()+legacy.PatternKey+".patient-care", legacy.marshal()); err != nil {
		t.Fatal(err)
	}
	old := bundle("198.51.100.63", tlp.Green)
	index := legacy
	index.Sectors, index.Indicator = []string{"patient-care"}, indicatorID(t, old)
	sightings, err := h.js.KeyValue(ctx, records.BucketSightings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sightings.Create(ctx, legacyIndicatorKey(indicatorID(t, old)), index.marshal()); err != nil {
		t.Fatal(err)
	}
	// A router starts where these were left: it copies them.
	routed, err := h.js.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		t.Fatal(err)
	}
	if err := routed.Purge(ctx, migratedKey); err != nil {
		t.Fatal(err)
	}
	r, err := New(ctx, Deps{JS: h.js, Registry: h.reg, Verifier: envelope.NewVerifier(h.reg, envelope.VerifyOptions{}), Signer: h.signers["svc-test"]},
		Options{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.migrateLegacy(ctx); err != nil || n != 2 {
		t.Fatalf("migrated %d records (%v), want 2", n, err)
	}
	env := h.publish("lakeside-childrens", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, alertOf(b, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("lakeside-childrens", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE || o.GetDuplicateOf() != "legacy-alert" {
		t.Fatalf("re-publish: %v duplicate of %q, want a duplicate of the legacy alert", o.GetState(), o.GetDuplicateOf())
	}
	// The copy in ROUTED answers, not the legacy record.
	if err := sightings.Purge(ctx, legacyIndicatorKey(indicatorID(t, old))); err != nil {
		t.Fatal(err)
	}
	h.sight("riverside", indicatorID(t, old), false)
	waitFor(t, func() bool { return h.sightingCount(indicatorID(t, old), "patient-care") == 2 },
		"riverside's sighting of the legacy-indexed indicator counted with lakeside's re-publish")
}

// TestARedeliveryAfterTheRecordSendsTheCopies: the record is written
// before the copies; when the copies fail (no sector stream answers) the
// redelivery finds the outcome and sends them, once the stream is back.
func TestARedeliveryAfterTheRecordSendsTheCopies(t *testing.T) {
	h := newHarness(t, 1, Options{AckWait: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.js.DeleteStream(ctx, subjects.StreamSectors); err != nil {
		t.Fatal(err)
	}
	nc := testcluster.Connect(t, h.c.Node(0).ClientURL())
	silent, err := nc.Subscribe(subjects.SectorAll("patient-care"), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	b := bundle("198.51.100.64", tlp.Green)
	env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, alertOf(b, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("outcome %v", o)
	}
	if err := silent.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := broker.Provision(ctx, h.js, h.c.Replicas()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		envs, _, err := h.tryMessages(subjects.StreamSectors, subjects.SectorAll("patient-care"))
		return err == nil && len(envs) == 1 && envs[0].GetId() == env.GetId()
	}, "the copy sent on a redelivery")
}

// TestManyRecordsAtOnceAreAllWritten: more batches at once than the
// stream leader stages together (50 by default) are each written, whole:
// a batch it could not stage is sent again.
func TestManyRecordsAtOnceAreAllWritten(t *testing.T) {
	h := newHarness(t, 0, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := New(ctx, Deps{JS: h.js, Registry: h.reg, Verifier: envelope.NewVerifier(h.reg, envelope.VerifyOptions{}), Signer: h.signers["svc-test"]},
		Options{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	errs := make(chan error, n)
	for i := range n {
		go func() {
			k := fmt.Sprintf("many-%d", i)
			errs <- r.writeRecords(ctx, []kvWrite{{claimKey(k, "patient-care"), []byte("{}"), 0}, {indicatorKey(k), []byte("{}"), 0}, {"st-mary." + k, []byte("x"), 0}})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := h.routedRecords()
	if len(keys) != 3*n {
		t.Fatalf("ROUTED holds %d records, want %d", len(keys), 3*n)
	}
}
