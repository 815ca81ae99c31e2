package mutualaid

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// A region's mutual-aid service (Options.Region, docs/REGIONS.md) takes its
// region's aid ingest, writes the request to its region's AID and audit
// trail and its outcome to its region's ROUTED; the single cluster's
// services, running beside it on the plain streams, see none of it.
func TestARegionsServiceTakesItsRegionsAidIngest(t *testing.T) {
	h := newHarness(t, Options{})
	region := broker.DefaultClusterName
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	set := broker.RegionSet{Region: region, Regions: []string{region, "west"}, RegistryRegion: "west"}
	testwait.For(t, time.Minute, "the region's stream set", func() error { return broker.ProvisionRegion(ctx, h.js, set) })
	s, err := New(ctx, Deps{JS: h.node[0], Registry: h.reg, Verifier: envelope.NewVerifier(h.reg, envelope.VerifyOptions{}),
		Signer: h.signers["svc-aid-0"]}, Options{Region: region}, zaptest.NewLogger(t).Named("region"))
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(rctx) }()
	t.Cleanup(func() { rcancel(); <-done })

	env, err := h.signers["st-mary"].Seal(kReq, request(amber, nil, need("incident-response", 2)))
	if err != nil {
		t.Fatal(err)
	}
	h.publishOn(0, subjects.InRegion(region, subjects.Ingest(subjects.KindAid, "st-mary")), env)
	routed, err := h.js.KeyValue(ctx, subjects.RegionStream(records.BucketRouted, region))
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "the request's outcome in the region's ROUTED", func() error {
		o, err := records.GetOutcome(ctx, routed, "st-mary", env.GetId())
		if err == nil && o == nil {
			err = errors.New("none yet")
		}
		return err
	})
	if got := h.messages(subjects.RegionStream(subjects.StreamAidAudit, region), subjects.InRegion(region, subjects.AidAuditAll)); len(got) != 1 || got[0].GetId() != env.GetId() {
		t.Fatalf("the region's audit trail holds %d envelopes, want the request", len(got))
	}
	if got := h.messages(subjects.StreamAidAudit, subjects.AidAuditAll); len(got) != 0 {
		t.Fatalf("the single cluster's audit trail holds %d envelopes of a region's service", len(got))
	}
	aid, err := h.js.KeyValue(ctx, subjects.RegionStream(records.BucketAid, region))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := aid.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	if n == 0 {
		t.Fatal("the region's AID bucket holds no record of the request")
	}
}

// AidRegion names a region's bucket, so it needs the node's region: a
// single cluster has no AID-<region>.
func TestAidRegionNeedsARegion(t *testing.T) {
	if err := (Options{AidRegion: "east"}).withDefaults().validate(); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("AidRegion without Region: %v, want %v", err, ErrInvalidOptions)
	}
	for _, o := range []Options{{}, {Region: "west"}, {Region: "west", AidRegion: "east"}} {
		if err := o.withDefaults().validate(); err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
	}
}
