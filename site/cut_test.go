package site_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/site"
)

// TestSiteQueuesThroughACutAndForwardsEachOnceAtHeal cuts the site's leaf
// link (a TCP proxy refusing it) while the member sends status reports at
// its site and the hub routes an alert to its sector; a message sourced
// before the cut stays readable. At heal every report reaches the hub
// once and is handled (none refused), though each is older than the router's skew bound
// by then (their skew is measured from the site's stored time), one the
// hub already had included (nats-io/nats-server#4459: a duplicate does
// not stall the forwarding); the alert reaches the site (#6468, #7530:
// what was stored on either side while offline flows after reconnect).
func TestSiteQueuesThroughACutAndForwardsEachOnceAtHeal(t *testing.T) {
	const n = 40
	const maxSkew = 2 * time.Second
	p := cutproxy.New(t)
	h := startHubWith(t, func(l *broker.LeafOptions) { l.Advertise = p.Addr() })
	h.runRouter(maxSkew)
	ctx := testContext(t, 150*time.Second)
	p.Start(strings.TrimPrefix(h.c.Node(0).LeafURL(), "nats-leaf://"))
	s := h.startSiteVia("st-mary", "", t.TempDir(), "nats-leaf://"+p.Addr())
	link := func(want bool) func() error {
		return testwait.True(func() bool { up, _ := s.Link(); return up == want })
	}
	testwait.For(t, 20*time.Second, "the leaf link up", link(true))
	js := localJS(t, s)
	h.route(ctx, "tocsin.sector.patient-care.flash", "before:patient-care")
	waitMsgs(ctx, t, js, "SECTORS", 1)

	p.Cut()
	testwait.For(t, 20*time.Second, "the site seeing its link down", link(false))
	var envs []*tocsinv1.Envelope
	for i := range n {
		env, msg := h.seal("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DEGRADED, Note: fmt.Sprint("report ", i)})
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatalf("report %d at the site during the cut: %v", i, err)
		}
		if ack.Stream != site.StreamOutbox || ack.Domain != site.Domain("st-mary") {
			t.Fatalf("report %d stored in %s at %q, want the site's outbox", i, ack.Stream, ack.Domain)
		}
		envs = append(envs, env)
		if i == 0 { // the hub gets this one by another path too
			if _, err := h.svcJS.PublishMsg(ctx, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	last := time.Now()
	h.route(ctx, "tocsin.sector.patient-care.flash", "during:patient-care")
	// What was sourced before the cut is read at the site during it.
	c, err := js.Consumer(ctx, "SECTORS", auth.SectorConsumer("st-mary", "patient-care"))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil || string(m.Data()) != "before:patient-care" {
		t.Fatalf("the message sourced before the cut, during it: %v", err)
	}
	testwait.For(t, 30*time.Second, "the queued reports older than the router's skew bound", testwait.True(func() bool { return time.Since(last) > maxSkew+time.Second }))

	healed := time.Now()
	p.Heal()
	testwait.Until(ctx, t, "every report at the hub and handled by the router", func() error { return h.recordsDone(ctx, uint64(n)) })
	t.Logf("%d reports queued through the cut at the hub and handled %s after heal", n, time.Since(healed).Round(time.Millisecond))
	// None refused (as skewed, or at all), the board shows the last.
	if err := wantMsgs(ctx, h.svcJS, "REJECTIONS", 0); err != nil {
		t.Fatalf("the router refused queued reports: %v", err)
	}
	kv, err := h.svcJS.KeyValue(ctx, records.BucketSituation)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, alerts.SituationKey("northeast", "st-mary"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(e.Value()), fmt.Sprint("report ", n-1)) {
		t.Fatalf("the board shows %q, want the last report", e.Value())
	}
	waitMsgs(ctx, t, js, "SECTORS", 2)
	ingest, err := h.svcJS.Stream(ctx, "INGEST")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ingest.Info(ctx, jetstream.WithSubjectFilter("tocsin.ingest.status.st-mary"))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects["tocsin.ingest.status.st-mary"]; got != n {
		t.Fatalf("INGEST holds %d reports of st-mary, want %d (each once)", got, n)
	}
	testwait.For(t, 10*time.Second, "the outbox empty", func() error { return wantMsgs(ctx, js, site.StreamOutbox, 0) })
	// The last report forwarded says nothing was queued behind it (the
	// hub's record of the site reads it, sitewatch).
	lastFwd, err := ingest.GetLastMsgForSubject(ctx, "tocsin.ingest.status.st-mary")
	if err != nil {
		t.Fatal(err)
	}
	if got := lastFwd.Header.Get(records.SiteBacklogHeader); got != "0" {
		t.Fatalf("the last forwarded report says %q queued behind it, want 0", got)
	}
	// The first report the site forwarded (the second in INGEST: the hub
	// had the first by another path) says how full the outbox was, read
	// during the cut with the reports queued, and the site's alarm share.
	oc, err := ingest.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"tocsin.ingest.status.st-mary"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := oc.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var firstFwd jetstream.Msg
	for m := range b.Messages() {
		firstFwd = m
	}
	fill, err := strconv.ParseFloat(firstFwd.Headers().Get(records.SiteOutboxFillHeader), 64)
	if err != nil || fill <= 0 || fill >= 0.01 {
		t.Fatalf("the first forwarded report says its outbox was %q full (%v), want a small share above 0", firstFwd.Headers().Get(records.SiteOutboxFillHeader), err)
	}
	if got := firstFwd.Headers().Get(records.SiteOutboxAlarmHeader); got != "0.8" {
		t.Fatalf("the forwarded report says the site's alarm is at %q, want its default 0.8", got)
	}
}

func wantMsgs(ctx context.Context, js jetstream.JetStream, stream string, want uint64) error {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	for _, src := range info.Sources {
		if src.Error != nil {
			return fmt.Errorf("source %s: %v", src.Name, src.Error)
		}
	}
	if info.State.Msgs != want {
		return fmt.Errorf("%s has %d messages, want %d", stream, info.State.Msgs, want)
	}
	return nil
}

func waitMsgs(ctx context.Context, t testing.TB, js jetstream.JetStream, stream string, want uint64) {
	t.Helper()
	testwait.Until(ctx, t, fmt.Sprintf("%s at the site with %d messages", stream, want), func() error { return wantMsgs(ctx, js, stream, want) })
}
