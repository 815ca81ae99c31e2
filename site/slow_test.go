package site_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestSiteOnASlowLinkStaysLinked: the site's link is 50 kbit/s both ways
// (nats-io/nats-server#7615: a leaf going stale and reconnecting over
// and over on a slow link). Routed copies and queued reports cross it in
// both directions and the leaf connection is the same one throughout.
func TestSiteOnASlowLinkStaysLinked(t *testing.T) {
	const n = 20
	p := cutproxy.New(t)
	p.SetRate(50_000 / 8)
	h := startHubWith(t, func(l *broker.LeafOptions) { l.Advertise = p.Addr() })
	ctx := testContext(t, 120*time.Second)
	p.Start(strings.TrimPrefix(h.c.Node(0).LeafURL(), "nats-leaf://"))
	s := h.startSiteVia("st-mary", "", t.TempDir(), "nats-leaf://"+p.Addr())
	testwait.For(t, 60*time.Second, "the leaf link up", testwait.True(func() bool { up, _ := s.Link(); return up }))
	_, since := s.Link()
	js := localJS(t, s)
	payload := strings.Repeat("x", 1000)
	for i := range n {
		h.route(ctx, "tocsin.sector.patient-care.flash", fmt.Sprintf("slow-%d:patient-care %s", i, payload))
		_, msg := h.seal("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DEGRADED, Note: payload})
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	waitMsgs(ctx, t, js, "SECTORS", n)
	testwait.Until(ctx, t, "the reports at the hub", func() error { return wantSubject(ctx, h, "tocsin.ingest.status.st-mary", n) })
	t.Logf("%d copies in and %d reports out over 50 kbit/s in %s", n, n, time.Since(start).Round(time.Millisecond))
	if up, now := s.Link(); !up || !now.Equal(since) {
		t.Fatalf("the link went down or reconnected (up %v, since %s, was %s)", up, now, since)
	}
	lz, err := h.c.Node(0).Server().Leafz(nil)
	if err != nil || len(lz.Leafs) != 1 {
		t.Fatalf("hub leafs %+v: %v", lz, err)
	}
}
