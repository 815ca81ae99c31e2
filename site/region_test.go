package site_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/regiontest"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/site"
)

// TestASiteOfAMemberHomedInARegionSourcesEveryRegionsCopies: on a
// supercluster of stream sets (regions a and b, one node each, every
// node with a leaf listener), st-mary is homed in b. Its hub-side site
// consumers are on SECTORS-b, INBOX-b and REJECTIONS-b, filtering every
// region's copies (tocsin.r.*.sector.patient-care.>); its site, linked to
// b's node, names its streams so and sources them: copies routed in a
// (sourced into b's streams) and in b reach the site, each once, and are
// read there through the member's local consumers, not another sector's;
// a status report sent at the site is forwarded into INGEST-b.
func TestASiteOfAMemberHomedInARegionSourcesEveryRegionsCopies(t *testing.T) {
	mary := &tocsinv1.Member{Id: "st-mary", Name: "St. Mary", Sectors: []string{"patient-care"}, HomeRegion: "b",
		Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}, CreatedAt: timestamppb.Now()}
	w := regiontest.Start(t, regiontest.Options{Regions: []broker.RegionSpec{{Name: "a", Nodes: 1}, {Name: "b", Nodes: 1}}, Members: []*tocsinv1.Member{mary},
		Leaf: func(string, int, *broker.LeafOptions) {}, Only: []string{"INGEST", "SECTORS", "INBOX", "REJECTIONS"}})
	ctx := testContext(t, 3*time.Minute)
	jsA, jsB := w.JS("a"), w.JS("b")
	testwait.Until(ctx, t, "st-mary's site consumers in region b", func() error { return auth.EnsureSiteConsumers(ctx, jsB, mary) })
	for stream, filter := range map[string]string{"SECTORS-b": "tocsin.r.*.sector.patient-care.>", "INBOX-b": "tocsin.r.*.inbox.st-mary", "REJECTIONS-b": "tocsin.r.*.rejection.st-mary"} {
		c, err := jsB.PushConsumer(ctx, stream, auth.SiteConsumerName("st-mary", stream[:len(stream)-2]))
		if err != nil {
			t.Fatalf("st-mary's site consumer on %s: %v", stream, err)
		}
		if cfg := c.CachedInfo().Config; cfg.FilterSubject != filter {
			t.Fatalf("st-mary's site consumer on %s filters %q %v, want %q", stream, cfg.FilterSubject, cfg.FilterSubjects, filter)
		}
	}
	credsFile := w.SiteCreds(mary)
	s, err := site.New(ctx, site.Options{Hub: []string{w.SC.Region("b")[0].LeafURL()}, Creds: credsFile, DataDir: t.TempDir(),
		Listen: "127.0.0.1:-1", Log: zaptest.NewLogger(t).Named("site")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Exit)
	testwait.For(t, 30*time.Second, "the site's link up", testwait.True(func() bool { up, _ := s.Link(); return up }))

	var want []string
	route := func(js jetstream.JetStream, subject string) {
		t.Helper()
		id := fmt.Sprintf("%s#%d", subject, len(want))
		testwait.Until(ctx, t, "route on "+subject, func() error { _, err := js.Publish(ctx, subject, []byte(id), jetstream.WithMsgID(id)); return err })
		want = append(want, id)
	}
	route(jsA, "tocsin.r.a.sector.patient-care.flash")
	route(jsA, "tocsin.r.a.sector.patient-care.urgent")
	route(jsB, "tocsin.r.b.sector.patient-care.flash")
	sectors := want
	want = nil
	route(jsA, "tocsin.r.a.inbox.st-mary")
	route(jsB, "tocsin.r.b.inbox.st-mary")
	inbox := want
	for _, other := range []string{"tocsin.r.a.sector.pharma.flash", "tocsin.r.b.inbox.acme-pharma"} {
		if _, err := jsA.Publish(ctx, other, []byte("not st-mary's")); err != nil {
			t.Fatal(err)
		}
	}

	local := localJS(t, s)
	read := func(stream, consumer string, want []string) {
		t.Helper()
		c, err := local.Consumer(ctx, stream, consumer)
		if err != nil {
			t.Fatalf("st-mary's consumer %s on the site's %s: %v", consumer, stream, err)
		}
		var got []string
		testwait.Until(ctx, t, fmt.Sprintf("%d copies read at the site through %s", len(want), stream), func() error {
			b, err := c.Fetch(len(want)+1, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				return err
			}
			for m := range b.Messages() {
				got = append(got, string(m.Data()))
				_ = m.Ack()
			}
			if len(got) < len(want) {
				return fmt.Errorf("read %v", got)
			}
			return nil
		})
		slices.Sort(got)
		sorted := slices.Sorted(slices.Values(want))
		if !slices.Equal(got, sorted) {
			t.Fatalf("read at the site through %s: %v, want each of %v once", stream, got, sorted)
		}
	}
	read("SECTORS-b", auth.SectorsConsumer("st-mary"), sectors)
	read("INBOX-b", auth.InboxConsumer("st-mary"), inbox)

	// Out: a status report sent at the site reaches INGEST-b.
	report := nats.NewMsg("tocsin.ingest.status.st-mary")
	report.Data = []byte("degraded")
	report.Header.Set(nats.MsgIdHdr, "report-1")
	if _, err := local.PublishMsg(ctx, report); err != nil {
		t.Fatalf("a status report at the site: %v", err)
	}
	ingest, err := jsB.Stream(ctx, "INGEST-b")
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(ctx, t, "the report forwarded into INGEST-b", func() error {
		m, err := ingest.GetLastMsgForSubject(ctx, "tocsin.r.b.ingest.status.st-mary")
		if err != nil {
			return err
		}
		if string(m.Data) != "degraded" {
			return fmt.Errorf("INGEST-b holds %q", m.Data)
		}
		return nil
	})
	testwait.Until(ctx, t, "the site's outbox empty", func() error { return wantMsgs(ctx, local, site.StreamOutbox, 0) })
}
