package alerts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// A region's router (Options.Region, docs/REGIONS.md) routes its region's
// INGEST into its region's copies stream and records, refuses into its
// region's rejections, and leaves a single cluster's streams alone. The
// test cluster is the region ("tocsin"); the other region of its stream
// set, west, is away (its sources wait).
func TestARegionsRouterRoutesItsRegionsIngest(t *testing.T) {
	h := newHarness(t, 0, Options{})
	region := broker.DefaultClusterName
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	set := broker.RegionSet{Region: region, Regions: []string{region, "west"}, RegistryRegion: "west"}
	testwait.For(t, time.Minute, "the region's stream set", func() error { return broker.ProvisionRegion(ctx, h.js, set) })
	h.startRouter(0, Options{Region: region})

	publishIn := func(sender string, env *tocsinv1.Envelope) {
		t.Helper()
		data, err := proto.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		h.publishRaw(subjects.InRegion(region, subjects.Ingest(subjects.KindAlert, sender)), env.GetId(), data)
	}
	env, err := h.signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("198.51.100.70", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	publishIn("st-mary", env)
	routed, err := h.js.KeyValue(ctx, subjects.RegionStream(records.BucketRouted, region))
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "st-mary's alert routed in the region's ROUTED", func() error {
		o, err := records.GetOutcome(ctx, routed, "st-mary", env.GetId())
		switch {
		case err != nil:
			return err
		case o == nil:
			return errors.New("no outcome yet")
		case o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED:
			t.Fatalf("outcome %v, want routed (rejection %v)", o.GetState(), o.GetRejection())
		}
		return nil
	})
	envs, ids := h.messages(subjects.RegionStream(subjects.StreamSectors, region), subjects.InRegion(region, subjects.SectorAll("patient-care")))
	if len(envs) != 1 || envs[0].GetId() != env.GetId() || ids[0] != env.GetId()+":patient-care" {
		t.Fatalf("the region's copies hold %d messages of patient-care (ids %v), want the alert once", len(envs), ids)
	}
	if envs, _ := h.messages(subjects.StreamSectors, subjects.SectorsAll); len(envs) != 0 {
		t.Fatalf("the single cluster's SECTORS got %d copies from a region's router", len(envs))
	}
	if o, err := records.GetOutcome(ctx, h.routedKV(ctx), "st-mary", env.GetId()); err != nil || o != nil {
		t.Fatalf("the single cluster's ROUTED holds %v (%v), want nothing of a region's router", o, err)
	}

	// Riverside's envelope on St. Mary's ingest subject of the region is
	// refused (the subject's sender is checked without its region), into
	// the region's rejections.
	forged, err := h.signers["riverside"].Seal(tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("198.51.100.71", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	publishIn("st-mary", forged)
	testwait.For(t, 30*time.Second, "the forged alert's rejection in the region's REJECTIONS", func() error {
		envs, _, err := h.tryMessages(subjects.RegionStream(subjects.StreamRejections, region), subjects.InRegion(region, subjects.RejectionAll))
		if err != nil {
			return err
		}
		if len(envs) != 1 {
			return errors.New("no rejection yet")
		}
		return nil
	})
}

func (h *harness) routedKV(ctx context.Context) jetstream.KeyValue {
	kv, err := h.js.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		h.t.Fatal(err)
	}
	return kv
}
