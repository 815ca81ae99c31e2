package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// A receipt ingested in one region for a message another region routed
// (Receipt.ref_region) is filed in that region's REACH, where its sender's
// reach is read, and not in the receipt's region's; a receipt naming a
// region the cluster does not have is refused. The test cluster is the
// receipt's region ("tocsin"); the message's region, west, is its
// records' buckets (ROUTED-west, REACH-west, SIGHTINGS-west), here in the
// same cluster: what the router reads and writes of it across a gateway.
func TestAReceiptOfAnotherRegionsMessageReachesThatRegionsReach(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, region, west := startRegionRouter(ctx, t)

	// West's router routed hhs-liaison's advisory to patient-care.
	const id = "01JREGIONWESTADVISORY00001"
	o, _ := proto.Marshal(&tocsinv1.Outcome{RefId: id, State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED, Sectors: []string{"patient-care"}, At: timestamppb.Now()})
	if _, err := west[records.BucketRouted].Create(ctx, records.OutcomeKey("hhs-liaison", id), o); err != nil {
		t.Fatal(err)
	}
	receipt := func(member, refRegion string, state tocsinv1.ReceiptState) *tocsinv1.Envelope {
		t.Helper()
		return sendReceiptIn(t, h, region, member, &tocsinv1.Receipt{RefId: id, RefSender: "hhs-liaison", RefRegion: refRegion, State: state})
	}
	receipt("st-mary", "west", tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED)
	receipt("riverside", "west", tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED)
	testwait.For(t, 30*time.Second, "st-mary's and riverside's receipts in REACH-west", func() error {
		got, err := records.ReceiptsOf(ctx, west[records.BucketReach], id)
		if err != nil {
			return err
		}
		if got["st-mary"].Delivered.IsZero() || got["riverside"].Acknowledged.IsZero() {
			return fmt.Errorf("REACH-west has %v", got)
		}
		return nil
	})
	local, err := h.js.KeyValue(ctx, subjects.RegionStream(records.BucketReach, region))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := records.ReceiptsOf(ctx, local, id); err != nil || len(got) != 0 {
		t.Fatalf("the receipt's own region's REACH has %v (%v), want nothing of west's message", got, err)
	}

	// The region's routers answer reach requests on the region's subject,
	// which a member homed here asks on (its account imports it).
	req, _ := json.Marshal(records.ReachRequest{ID: id})
	rep, err := h.js.Conn().RequestWithContext(ctx, subjects.InRegion(region, subjects.SvcReach("hhs-liaison")), req)
	if err != nil || !strings.Contains(rep.Header.Get(records.HeaderError), "sent no message") {
		t.Fatalf("a reach request on the region's subject for west's message: %v %v, want refused by this region's router (not its message)", rep, err)
	}

	// A region the cluster does not have: refused to the member.
	bad := receipt("valley-general", "esat", tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED)
	testwait.For(t, 30*time.Second, "valley-general's receipt naming region esat refused", func() error {
		routed, err := h.js.KeyValue(ctx, subjects.RegionStream(records.BucketRouted, region))
		if err != nil {
			return err
		}
		o, err := records.GetOutcome(ctx, routed, "valley-general", bad.GetId())
		switch {
		case err != nil:
			return err
		case o == nil:
			return errors.New("no outcome yet")
		case o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED || len(o.GetRejection().GetProblems()) == 0 ||
			!strings.Contains(o.GetRejection().GetProblems()[0].GetMessage(), `ref_region "esat"`):
			t.Fatalf("outcome %v %v, want refused naming ref_region", o.GetState(), o.GetRejection())
		}
		return nil
	})
}

// An acknowledgement that names no region (tocsin ack without --region)
// of a message another region routed is found there: the router, finding
// none of it in its own region's ROUTED, looks in every other region's,
// files it in that region's REACH, and records its outcome in its own
// region's ROUTED as for any receipt. One of a message no region routed to
// the member is refused, naming the regions looked in.
func TestAnAckWithoutItsRegionIsFoundInTheRegionThatRoutedIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, region, west := startRegionRouter(ctx, t)
	routed, err := h.js.KeyValue(ctx, subjects.RegionStream(records.BucketRouted, region))
	if err != nil {
		t.Fatal(err)
	}

	const id = "01JREGIONWESTADVISORY00002"
	o, _ := proto.Marshal(&tocsinv1.Outcome{RefId: id, State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED, Sectors: []string{"patient-care"}, At: timestamppb.Now()})
	if _, err := west[records.BucketRouted].Create(ctx, records.OutcomeKey("hhs-liaison", id), o); err != nil {
		t.Fatal(err)
	}
	ack := func(member, ref string) *tocsinv1.Outcome {
		t.Helper()
		env := sendReceiptIn(t, h, region, member, &tocsinv1.Receipt{RefId: ref, State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED, By: "J. Ortiz"})
		var out *tocsinv1.Outcome
		testwait.For(t, 30*time.Second, member+"'s acknowledgement's outcome", func() (err error) {
			if out, err = records.GetOutcome(ctx, routed, member, env.GetId()); err == nil && out == nil {
				err = errors.New("none yet")
			}
			return err
		})
		return out
	}
	if got := ack("riverside", id); got.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("riverside's acknowledgement of west's advisory without its region: %v %v, want taken", got.GetState(), got.GetRejection())
	}
	testwait.For(t, 30*time.Second, "riverside's acknowledgement in REACH-west", func() error {
		got, err := records.ReceiptsOf(ctx, west[records.BucketReach], id)
		if err != nil {
			return err
		}
		if got["riverside"].Acknowledged.IsZero() {
			return fmt.Errorf("REACH-west has %v", got)
		}
		return nil
	})

	got := ack("riverside", "01JREGIONNOWHERE0000000001")
	ps := got.GetRejection().GetProblems()
	if got.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED || len(ps) == 0 || ps[0].GetCode() != tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE ||
		!strings.Contains(ps[0].GetMessage(), "looked in region "+region+", west") {
		t.Fatalf("an acknowledgement of a message no region routed: %v %v, want refused naming the regions looked in", got.GetState(), ps)
	}
}

// startRegionRouter starts a router of the test cluster's region
// ("tocsin", its set provisioned) beside west's records (ROUTED-west,
// REACH-west, SIGHTINGS-west, by bucket), which it reads and writes as it
// would across a gateway.
func startRegionRouter(ctx context.Context, t *testing.T) (*harness, string, map[string]jetstream.KeyValue) {
	t.Helper()
	h := newHarness(t, 0, Options{})
	region := broker.DefaultClusterName
	set := broker.RegionSet{Region: region, Regions: []string{region, "west"}, RegistryRegion: region}
	testwait.For(t, time.Minute, "the region's stream set", func() error { return broker.ProvisionRegion(ctx, h.js, set) })
	west := map[string]jetstream.KeyValue{}
	for _, b := range []string{records.BucketRouted, records.BucketReach, records.BucketSightings} {
		kv, err := h.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subjects.RegionStream(b, "west"), Storage: jetstream.MemoryStorage})
		if err != nil {
			t.Fatal(err)
		}
		west[b] = kv
	}
	h.startRouter(0, Options{Region: region})
	return h, region, west
}

// sendReceiptIn seals rc as member and publishes it on member's receipt
// ingest subject in region.
func sendReceiptIn(t *testing.T, h *harness, region, member string, rc *tocsinv1.Receipt) *tocsinv1.Envelope {
	t.Helper()
	env, err := h.signers[member].Seal(tocsinv1.Kind_KIND_RECEIPT, rc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	h.publishRaw(subjects.InRegion(region, subjects.Ingest(subjects.KindReceipt, member)), env.GetId(), data)
	return env
}
