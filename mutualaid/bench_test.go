package mutualaid

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// benchRegions spread the benchmark's responders; the requests are for
// the first.
var benchRegions = []string{"northeast", "mid-atlantic", "midwest", "south", "west"}

// BenchmarkAid measures, on one in-process 3-node cluster with a service
// on every node and 1,000 registered capabilities (100 responders, every
// capability type each, in 5 regions):
//
//	match:    requests matched and responders notified per second
//	accept50: latency of 50 concurrent accepts, publish to outcome
//	kv-put, kv-update: raw KV puts and compare-and-set updates per second,
//	          one client, on the same cluster (the baseline)
func BenchmarkAid(b *testing.B) {
	vocab := members.DefaultVocabulary()
	var extra []*tocsinv1.Member
	for i := range 100 {
		extra = append(extra, &tocsinv1.Member{
			Id: fmt.Sprintf("bench-%03d", i), Name: "bench responder", Sectors: []string{"health-it"},
			Region: benchRegions[i%len(benchRegions)], Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER},
		})
	}
	h := newHarness(b, Options{}, extra...)
	start := time.Now()
	var envs []*tocsinv1.Envelope
	for i, m := range extra {
		for _, typ := range vocab.Capabilities {
			c := &tocsinv1.AidCapability{Type: typ, Capacity: 5, Regions: []string{benchRegions[i%len(benchRegions)]}}
			envs = append(envs, h.sendAsync(m.GetId(), kCap, c))
		}
	}
	h.waitRouted(envs)
	b.Logf("1,000 capabilities registered in %s (%.0f/s)", time.Since(start).Round(time.Millisecond), 1000/time.Since(start).Seconds())

	b.Run("match", func(b *testing.B) {
		requesters := []string{"st-mary", "lakeside-childrens", "riverside", "valley-general", "hilltop"}
		envs := make([]*tocsinv1.Envelope, 0, b.N)
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			envs = append(envs, h.sendAsync(requesters[i%len(requesters)], kReq, request(amber, nil, need("incident-response", 2), need("forensics", 1))))
		}
		notified := h.waitRouted(envs)
		elapsed := time.Since(start)
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
		b.ReportMetric(float64(notified)/elapsed.Seconds(), "notified/s")
		b.ReportMetric(float64(notified)/float64(b.N), "notified/request")
	})

	b.Run("accept50", func(b *testing.B) {
		var lat []time.Duration
		for range b.N {
			b.StopTimer()
			req, accepts := h.acceptRound(extra)
			b.StartTimer()
			lat = append(lat, h.timeAccepts(req, accepts)...)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	})

	kv, err := h.js.KeyValue(context.Background(), records.BucketAid)
	if err != nil {
		b.Fatal(err)
	}
	value := []byte(strings.Repeat("x", 2048)) // about a request record's size
	b.Run("kv-put", func(b *testing.B) {
		ctx := context.Background()
		start := time.Now()
		for i := range b.N {
			if _, err := kv.Put(ctx, fmt.Sprint("bench.put.", i), value); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
	})
	b.Run("kv-update", func(b *testing.B) {
		ctx := context.Background()
		rev, err := kv.Put(ctx, "bench.cas", value)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		failed := 0
		for range b.N {
			next, err := kv.Update(ctx, "bench.cas", value, rev)
			for err != nil {
				// A leader change can time out an update that was applied:
				// read the revision again, as the service does.
				if failed++; failed > 10 {
					b.Fatal(err)
				}
				if e, gerr := kv.Get(ctx, "bench.cas"); gerr == nil {
					rev = e.Revision()
				}
				next, err = kv.Update(ctx, "bench.cas", value, rev)
			}
			rev = next
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
	})
}

// sendAsync publishes a sealed message without waiting for its PubAck
// (waitRouted waits for the outcome, which comes after).
func (h *harness) sendAsync(sender string, kind tocsinv1.Kind, payload proto.Message) *tocsinv1.Envelope {
	h.t.Helper()
	env, err := h.signers[sender].Seal(kind, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	for {
		if _, err = h.js.PublishAsync(subjects.Ingest(subjects.KindAid, sender), data, jetstream.WithMsgID(env.GetId())); err == nil {
			return env
		}
		select {
		case <-h.js.PublishAsyncComplete():
		case <-time.After(time.Second):
		}
	}
}

// waitRouted waits until every envelope has an outcome, failing on a
// rejection, and returns how many organisations they reached.
func (h *harness) waitRouted(envs []*tocsinv1.Envelope) int {
	h.t.Helper()
	total := 0
	for _, o := range h.watchRouted(envs).collect(nil) {
		if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			h.t.Fatalf("%s: %v", o.GetRefId(), o.GetRejection().GetProblems())
		}
		total += int(o.GetOrganisations())
	}
	return total
}

// outcomeWatch follows the ROUTED bucket for a set of messages' outcomes.
type outcomeWatch struct {
	h      *harness
	ctx    context.Context
	cancel context.CancelFunc
	kv     jetstream.KeyValue
	w      jetstream.KeyWatcher
	envs   []*tocsinv1.Envelope
}

// watchRouted starts watching for the outcomes of envs.
func (h *harness) watchRouted(envs []*tocsinv1.Envelope) *outcomeWatch {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	kv, err := h.js.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		h.t.Fatal(err)
	}
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		h.t.Fatal(err)
	}
	return &outcomeWatch{h: h, ctx: ctx, cancel: cancel, kv: kv, w: w, envs: envs}
}

// collect returns every outcome; at, when set, gets the time each arrived
// through the watcher (outcomes recorded before it started are read
// directly and get none).
func (ow *outcomeWatch) collect(at map[string]time.Time) map[string]*tocsinv1.Outcome {
	h := ow.h
	h.t.Helper()
	defer ow.cancel()
	defer func() { _ = ow.w.Stop() }()
	want := map[string]bool{}
	got := map[string]*tocsinv1.Outcome{}
	for _, e := range ow.envs {
		key := records.OutcomeKey(e.GetSender(), e.GetId())
		want[key] = true
		if at == nil {
			if o, _ := records.GetOutcome(ow.ctx, ow.kv, e.GetSender(), e.GetId()); o != nil {
				got[key] = o
			}
		}
	}
	for len(got) < len(want) {
		select {
		case e := <-ow.w.Updates():
			if e == nil || !want[e.Key()] || got[e.Key()] != nil {
				continue
			}
			if at != nil {
				at[e.Key()] = time.Now()
			}
			o := &tocsinv1.Outcome{}
			if err := proto.Unmarshal(e.Value(), o); err != nil {
				h.t.Fatal(err)
			}
			got[e.Key()] = o
		case <-ow.ctx.Done():
			h.t.Fatalf("%d of %d outcomes after 5 minutes", len(got), len(want))
		}
	}
	return got
}

// acceptRound prepares a request for 20 units with 50 one-unit offers from
// ten northeast responders (5 units each) and the 50 accepts, sealed.
func (h *harness) acceptRound(responders []*tocsinv1.Member) (string, []*tocsinv1.Envelope) {
	req := h.ok("st-mary", kReq, request(amber, nil, need("staff-augmentation", 20))).GetId()
	var offers []*tocsinv1.Envelope
	n := 0
	for _, m := range responders {
		if m.GetRegion() != "northeast" {
			continue
		}
		for range 5 {
			offers = append(offers, h.sendAsync(m.GetId(), kOff, offer(req, "staff-augmentation", 1)))
		}
		if n++; n == 10 {
			break
		}
	}
	h.waitRouted(offers)
	accepts := make([]*tocsinv1.Envelope, len(offers))
	for i, o := range offers {
		env, err := h.signers["st-mary"].Seal(kDec, decide(aAccept, req, o.GetId(), 0))
		if err != nil {
			h.t.Fatal(err)
		}
		accepts[i] = env
	}
	return req, accepts
}

// timeAccepts publishes the accepts at once, through the three nodes, and
// returns each one's time from publish to outcome; it then demobilises
// the winners so that the next round finds the capacity free.
func (h *harness) timeAccepts(req string, accepts []*tocsinv1.Envelope) []time.Duration {
	ow := h.watchRouted(accepts)
	sent := make([]time.Time, len(accepts))
	var pub sync.WaitGroup
	for i, env := range accepts {
		pub.Go(func() {
			sent[i] = time.Now()
			h.publishOn(i%3, subjects.Ingest(subjects.KindAid, "st-mary"), env)
		})
	}
	at := map[string]time.Time{}
	ow.collect(at)
	pub.Wait()
	var lat []time.Duration
	for i, env := range accepts {
		lat = append(lat, at[records.OutcomeKey("st-mary", env.GetId())].Sub(sent[i]))
	}
	var demob []*tocsinv1.Envelope
	for _, o := range h.show("st-mary", req).Request.Offers {
		if o.State == OfferAccepted {
			demob = append(demob, h.sendAsync(o.Responder, kDec, decide(aDemobilise, "", o.ID, 0)))
		}
	}
	h.waitRouted(demob)
	return lat
}
