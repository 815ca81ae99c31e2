package site_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

var (
	benchCut    = flag.Duration("site.cut", 5*time.Second, "BenchmarkSiteCutAndHeal: how long the site's link is cut (the issue's figure: 10m)")
	benchQueued = flag.Int("site.queued", 1000, "BenchmarkSiteCutAndHeal: status reports queued at the site during the cut")
	benchAlerts = flag.Int("site.alerts", 100, "BenchmarkSiteCutAndHeal: routed copies the hub stores for the site during the cut")
)

// BenchmarkSiteCutAndHeal cuts a site's leaf link for -site.cut while the
// member queues -site.queued status reports at its site and the hub
// routes -site.alerts copies to its sector, then heals it and measures how
// long until every report is at the hub and handled by the router (its
// default 5-minute skew bound) and every copy is at the site:
//
//	go test -run '^$' -bench SiteCutAndHeal -benchtime 1x ./site/ -site.cut 10m
func BenchmarkSiteCutAndHeal(b *testing.B) {
	for range b.N {
		b.StopTimer()
		p := cutproxy.New(b)
		h := startHubWith(b, func(l *broker.LeafOptions) { l.Advertise = p.Addr() })
		h.runRouter(0)
		ctx := testContext(b, *benchCut+10*time.Minute)
		p.Start(strings.TrimPrefix(h.c.Node(0).LeafURL(), "nats-leaf://"))
		s := h.startSiteVia("st-mary", "", b.TempDir(), "nats-leaf://"+p.Addr())
		testwait.For(b, 20*time.Second, "the leaf link up", testwait.True(func() bool { up, _ := s.Link(); return up }))
		js := localJS(b, s)
		p.Cut()
		cut := time.Now()
		testwait.For(b, 20*time.Second, "the link down", testwait.True(func() bool { up, _ := s.Link(); return !up }))
		for i := range *benchQueued {
			_, msg := h.seal("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DEGRADED, Note: fmt.Sprint(i)})
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		for i := range *benchAlerts {
			h.route(ctx, "tocsin.sector.patient-care.flash", fmt.Sprintf("cut-%d:patient-care", i))
		}
		testwait.For(b, *benchCut+time.Minute, "the cut's end", testwait.True(func() bool { return time.Since(cut) >= *benchCut }))
		b.StartTimer()
		healed := time.Now()
		p.Heal()
		testwait.Until(ctx, b, "every report at the hub and handled", func() error { return h.recordsDone(ctx, uint64(*benchQueued)) })
		toHub := time.Since(healed)
		waitMsgs(ctx, b, js, "SECTORS", uint64(*benchAlerts))
		toSite := time.Since(healed)
		b.StopTimer()
		if err := wantMsgs(ctx, h.svcJS, "REJECTIONS", 0); err != nil {
			b.Fatalf("reports refused after the cut: %v", err)
		}
		b.ReportMetric(toHub.Seconds(), "heal-to-hub-s")
		b.ReportMetric(toSite.Seconds(), "heal-to-site-s")
		b.ReportMetric(time.Since(cut).Seconds(), "cut-and-heal-s")
	}
}
