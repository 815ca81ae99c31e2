package sitewatch_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/sitewatch"
)

// registry is the part of the member registry a watcher reads, holding
// the given records.
type registry []*tocsinv1.Member

func (r registry) Member(_ context.Context, id string) (*tocsinv1.Member, error) {
	for _, m := range r {
		if m.GetId() == id {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no member %q", id)
}

// TestARegionsNodeRecordsItsSitesInItsRegionsBucket: on a supercluster
// of stream sets (regions a and b, one node each), st-mary is homed in b
// and its site links to b's node. That node's watcher (Region b) writes
// the record to SITES-b, neither to SITES (there is none) nor to SITES-a;
// its lag is what st-mary's site consumers on b's copies streams hold
// (two copies routed in a, sourced into SECTORS-b, two routed in b, one
// to its inbox routed in a), its backlog that of the message its site
// forwarded, stored in INGEST-b.
func TestARegionsNodeRecordsItsSitesInItsRegionsBucket(t *testing.T) {
	mary := &tocsinv1.Member{Id: "st-mary", Name: "St. Mary", Sectors: []string{"patient-care"}, HomeRegion: "b",
		Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}, CreatedAt: timestamppb.Now()}
	w := regiontest.Start(t, regiontest.Options{Regions: []broker.RegionSpec{{Name: "a", Nodes: 1}, {Name: "b", Nodes: 1}}, Members: []*tocsinv1.Member{mary},
		Leaf: func(string, int, *broker.LeafOptions) {}, Only: []string{"INGEST", "SECTORS", "INBOX", "REJECTIONS", records.BucketSites}})
	ctx := testContext(t, 3*time.Minute)
	jsA, jsB := w.JS("a"), w.JS("b")
	testwait.Until(ctx, t, "st-mary's site consumers in region b", func() error { return auth.EnsureSiteConsumers(ctx, jsB, mary) })
	credsFile := w.SiteCreds(mary)

	b := w.SC.Region("b")[0]
	watcher, err := sitewatch.New(sitewatch.Deps{Server: b.Server(), JS: jsB, Node: b.Name(), Members: registry{mary}},
		sitewatch.Options{Interval: interval, Heartbeat: heartbeat, Region: "b"}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = watcher.Run(run) }()
	t.Cleanup(func() { stop(); <-done })
	leafTo(t, b.LeafURL(), credsFile, "site-st-mary-1")

	publish := func(js jetstream.JetStream, subject string, n int) {
		t.Helper()
		for i := range n {
			testwait.Until(ctx, t, "publish on "+subject, func() error { _, err := js.Publish(ctx, subject, []byte{byte(i)}); return err })
		}
	}
	publish(jsA, "tocsin.r.a.sector.patient-care.flash", 2)
	publish(jsB, "tocsin.r.b.sector.patient-care.urgent", 2)
	publish(jsA, "tocsin.r.a.inbox.st-mary", 1)
	fwd := nats.NewMsg("tocsin.r.b.ingest.status.st-mary") // what its forwarding subject is imported as
	fwd.Data = []byte("report")
	fwd.Header.Set(records.SiteBacklogHeader, "3")
	if _, err := jsB.PublishMsg(ctx, fwd); err != nil {
		t.Fatal(err)
	}

	kvB, err := jsB.KeyValue(ctx, "SITES-b")
	if err != nil {
		t.Fatal(err)
	}
	got := waitRecordIn(ctx, t, kvB, "st-mary", func(c records.SiteContact) bool { return c.Up && c.SourceLag == 5 && c.OutboxBacklog == 3 })
	if got.Node != b.Name() || got.Site != "site-st-mary-1" {
		t.Fatalf("st-mary's record in SITES-b: %+v, want its link on %s", got, b.Name())
	}
	if _, err := jsA.KeyValue(ctx, records.BucketSites); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("the bucket SITES: %v, want none on stream sets", err)
	}
	kvA, err := jsA.KeyValue(ctx, "SITES-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kvA.Get(ctx, "st-mary"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("st-mary's record in SITES-a: %v, want none (its site links to region b)", err)
	}
}
