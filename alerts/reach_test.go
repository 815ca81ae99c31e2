package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// clinics returns n members of sector patient-care, "clinic-<i>".
func clinics(n int) []*tocsinv1.Member {
	out := make([]*tocsinv1.Member, n)
	for i := range out {
		out[i] = &tocsinv1.Member{Id: fmt.Sprintf("clinic-%d", i), Name: fmt.Sprintf("Clinic %d", i),
			Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}, Region: "ne"}
	}
	return out
}

// reachWrites is how many writes the REACH bucket has taken.
func (h *harness) reachWrites() uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.js.Stream(ctx, "KV_"+records.BucketReach)
	if err != nil {
		h.t.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}

// advise publishes a liaison's advisory to patient-care (a CSAF one
// when doc is not nil) and waits until it is routed.
func (h *harness) advise(doc []byte) string {
	h.t.Helper()
	a := &tocsinv1.Advisory{Title: "reach test", Body: "body", Lane: tocsinv1.Lane_LANE_ROUTINE, Sectors: []string{"patient-care"}, Tlp: tlp.Clear.Proto(), CsafDocument: doc}
	env := h.publish("hhs-liaison", subjects.KindAdvisory, tocsinv1.Kind_KIND_ADVISORY, a)
	if o := h.outcome("hhs-liaison", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		h.t.Fatalf("the advisory: %v %v", o.GetState(), o.GetRejection())
	}
	return env.GetId()
}

// deliveredBy publishes a delivered receipt of id from each of who.
func (h *harness) deliveredBy(id string, affected bool, who []*tocsinv1.Member) {
	for _, m := range who {
		h.publish(m.GetId(), subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
			&tocsinv1.Receipt{RefId: id, RefSender: "hhs-liaison", State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED, Affected: affected})
	}
}

// askReach asks the reach service, as asker, for the receipts of id.
func (h *harness) askReach(asker, id string, who []string) (map[string]records.Reach, []records.AffectedTotal) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		got, affected, err := records.FetchReachAffected(ctx, h.js.Conn(), asker, id, who)
		switch {
		case err == nil:
			return got, affected
		case errors.Is(err, nats.ErrNoResponders) && ctx.Err() == nil:
			time.Sleep(50 * time.Millisecond) // the reach service is not subscribed yet
		default:
			h.t.Fatal(err)
		}
	}
}

func memberIDs(ms []*tocsinv1.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.GetId()
	}
	return out
}

// TestReachIsOneWritePerSetPerWindow: the delivered receipts of 40
// members of one sector, sent within a window, land in REACH in a few
// writes of the sector's set (one per window, the conflicts of one
// router none), not 40; the reach service answers each member, and those
// with no receipt are left out (the "who has not yet").
func TestReachIsOneWritePerSetPerWindow(t *testing.T) {
	cast := clinics(41)
	h := newHarnessWith(t, 1, Options{ReachWindow: 2 * time.Second}, cast)
	id := h.advise(nil)
	before := h.reachWrites()
	h.deliveredBy(id, false, cast[:40])
	testwait.For(t, 30*time.Second, "40 delivered in the reach answer", func() error {
		if got, _ := h.askReach("hhs-liaison", id, memberIDs(cast)); len(got) != 40 {
			return fmt.Errorf("%d delivered", len(got))
		}
		return nil
	})
	got, _ := h.askReach("hhs-liaison", id, memberIDs(cast))
	if _, ok := got[cast[40].GetId()]; ok || got[cast[0].GetId()].Delivered.IsZero() {
		t.Fatalf("clinic-40 sent nothing and clinic-0 delivered: %+v", got)
	}
	if w := h.reachWrites() - before; w == 0 || w > 4 {
		t.Fatalf("40 receipts in one window took %d REACH writes, want 1 to 4", w)
	}
	t.Logf("40 receipts: %d REACH writes", h.reachWrites()-before)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	var set records.ReachSet
	if err := json.Unmarshal(onlySet(ctx, t, kv, "hhs-liaison", id, "patient-care"), &set); err != nil || len(set.Delivered) != 40 {
		t.Fatalf("the set has %d delivered (%v)", len(set.Delivered), err)
	}
}

// csafDoc is a CISA ICSMA advisory as published, labelled WHITE.
func csafDoc(t *testing.T) []byte {
	data, err := os.ReadFile(filepath.Join("..", "csafschemas", "csaf", "cisa-icsma", "icsma-17-017-01.json"))
	if err != nil {
		t.Skipf("the pinned ICSMA advisories are not here (make schemas): %v", err)
	}
	return data
}

// TestAffectedIsCountedForTheLiaisonsCSAFAdvisoryOnly: the affected flag
// of delivered receipts is counted for a liaison's CSAF advisory, and the
// liaison is told per-sector totals with a floor of 3 ("fewer than 3"),
// never who; on a plain advisory the flag is ignored (the delivered
// receipts stand); another sender's reach (a hospital's alert) has no
// totals; REACH itself, which the liaison may read, never says who is
// affected.
func TestAffectedIsCountedForTheLiaisonsCSAFAdvisoryOnly(t *testing.T) {
	cast := clinics(6)
	doc := csafDoc(t)
	h := newHarnessWith(t, 1, Options{ReachWindow: 100 * time.Millisecond}, cast)
	csafID, fewID, plainID := h.advise(doc), h.advise(doc), h.advise(nil)
	h.deliveredBy(csafID, true, cast[:4])
	h.deliveredBy(csafID, false, cast[4:])
	h.deliveredBy(fewID, true, cast[:2])
	h.deliveredBy(plainID, true, cast)
	for _, c := range []struct {
		id        string
		delivered int
		want      string
	}{{csafID, 6, `[{"sector":"patient-care","count":4}]`}, {fewID, 2, `[{"sector":"patient-care","fewer_than":3}]`}, {plainID, 6, `null`}} {
		testwait.For(t, 30*time.Second, "the affected totals of "+c.id, func() error {
			got, affected := h.askReach("hhs-liaison", c.id, memberIDs(cast))
			data, _ := json.Marshal(affected)
			if len(got) != c.delivered || string(data) != c.want {
				return fmt.Errorf("%d delivered, affected %s; want %d and %s", len(got), data, c.delivered, c.want)
			}
			return nil
		})
	}
	if s := records.NewAffectedTotal("x", 2).String(); s != "fewer than 3" {
		t.Fatalf("2 affected read %q", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	value := onlySet(ctx, t, kv, "hhs-liaison", csafID, "patient-care")
	var v map[string]any
	_ = json.Unmarshal(value, &v)
	if len(v) != 2 || v["d"] == nil || v["c"] == nil {
		t.Fatalf("the REACH set holds more than the delivered states: %s", value)
	}
	sightings, err := h.js.KeyValue(ctx, records.BucketSightings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sightings.Get(ctx, records.AffectedKey("hhs-liaison", plainID, "patient-care")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("a plain advisory has an affected set (%v)", err)
	}

	alert := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(bundle("192.0.2.120", tlp.Green), tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", alert.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("alert: %v", o.GetState())
	}
	for _, m := range cast {
		h.publish(m.GetId(), subjects.KindReceipt, tocsinv1.Kind_KIND_RECEIPT,
			&tocsinv1.Receipt{RefId: alert.GetId(), State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED, Affected: true})
	}
	testwait.For(t, 30*time.Second, "st-mary's reach, without totals", func() error {
		got, affected := h.askReach("st-mary", alert.GetId(), memberIDs(cast))
		if len(got) != len(cast) || affected != nil {
			return fmt.Errorf("%d delivered, affected %v", len(got), affected)
		}
		return nil
	})
}

// TestOldReachKeysAreConvertedAtStart: a REACH bucket of an earlier
// version ("<message id>.<member>" keys) is converted by the router at
// start into the sets of today's shape, with every state's time and who
// acknowledged, and the old keys are purged; a key of a message never
// routed is purged unconverted.
func TestOldReachKeysAreConvertedAtStart(t *testing.T) {
	h := newHarness(t, 0, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	routed, err := h.js.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		t.Fatal(err)
	}
	reach, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	id, stray := envelope.NewID(), envelope.NewID()
	o, _ := proto.Marshal(&tocsinv1.Outcome{RefId: id, State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED, Sectors: []string{"patient-care"}, At: timestamppb.Now()})
	if _, err := routed.Put(ctx, records.OutcomeKey("st-mary", id), o); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 2, 31, 0, 0, time.UTC)
	old := map[string]records.Reach{
		"riverside":          {Delivered: at, Acknowledged: at.Add(time.Minute), By: "J. Ortiz"},
		"lakeside-childrens": {Delivered: at.Add(time.Second)},
	}
	for m, r := range old {
		data, _ := json.Marshal(r)
		if _, err := reach.Put(ctx, records.ReachKey(id, m), data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reach.Put(ctx, records.ReachKey(stray, "riverside"), []byte(`{"delivered":"2026-03-01T02:31:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	h.startRouter(0, Options{ReachWindow: 100 * time.Millisecond})
	testwait.For(t, 30*time.Second, "the old keys converted", func() error {
		got, err := records.ReceiptsOf(ctx, reach, id)
		if err != nil {
			return err
		}
		r := got["riverside"]
		if len(got) != 2 || !r.Delivered.Equal(at) || !r.Acknowledged.Equal(at.Add(time.Minute)) || r.By != "J. Ortiz" || !got["lakeside-childrens"].Delivered.Equal(at.Add(time.Second)) {
			return fmt.Errorf("converted: %+v", got)
		}
		keys, err := reach.ListKeysFiltered(ctx, "*.*")
		if err != nil {
			return err
		}
		var left []string
		for k := range keys.Keys() {
			left = append(left, k)
		}
		if len(left) > 0 {
			return fmt.Errorf("old keys left: %v", left)
		}
		return nil
	})
}

// onlySet is the value of the one REACH set of sender's message id in
// sector: one router wrote its own part (reachBatcher.writerKey), under a
// key the readers' patterns of the sector's set match.
func onlySet(ctx context.Context, t *testing.T, kv jetstream.KeyValue, sender, id, sector string) []byte {
	t.Helper()
	var keys []string
	for _, p := range records.ReachSectorPatterns(sender, id, sector) {
		l, err := kv.ListKeysFiltered(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for k := range l.Keys() {
			keys = append(keys, k)
		}
	}
	if len(keys) != 1 {
		t.Fatalf("the sets of %s's %s in %s: %v, want one router's one", sender, id, sector, keys)
	}
	e, err := kv.Get(ctx, keys[0])
	if err != nil {
		t.Fatalf("the sector's set %s: %v", keys[0], err)
	}
	return e.Value()
}

// TestEachRouterWritesItsOwnPartOfASet: three routers take the delivered
// receipts of one sector's members from their shared consumer; each
// writes its own part of the sector's set (its own key, so their windows
// never collide on one), the parts hold every member, and the reach
// service merges them into every member's receipt.
func TestEachRouterWritesItsOwnPartOfASet(t *testing.T) {
	cast := clinics(90)
	h := newHarnessWith(t, 3, Options{ReachWindow: 100 * time.Millisecond}, cast)
	id := h.advise(nil)
	h.deliveredBy(id, false, cast)
	testwait.For(t, 60*time.Second, "90 delivered in the reach answer", func() error {
		if got, _ := h.askReach("hhs-liaison", id, memberIDs(cast)); len(got) != len(cast) {
			return fmt.Errorf("%d delivered", len(got))
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := h.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]string{} // member: the key of the part it is in
	keys := 0
	for _, p := range records.ReachSectorPatterns("hhs-liaison", id, "patient-care") {
		l, err := kv.ListKeysFiltered(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for k := range l.Keys() {
			keys++
			if !strings.HasPrefix(k, records.ReachSetKey("hhs-liaison", id, "patient-care", 0)+".0-") {
				t.Fatalf("REACH key %s is not a router's own part of the set", k)
			}
			e, err := kv.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			var set records.ReachSet
			if err := json.Unmarshal(e.Value(), &set); err != nil {
				t.Fatal(err)
			}
			for _, m := range set.Members() {
				in[m] = k // a receipt redelivered to another router is in its part too
			}
		}
	}
	if keys == 0 || keys > 3 || len(in) != len(cast) {
		t.Fatalf("%d parts holding %d members, want 1 to 3 routers' parts holding all %d", keys, len(in), len(cast))
	}
	t.Logf("90 receipts in %d routers' parts", keys)
}
