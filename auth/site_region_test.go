package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/regiontest"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// A member moved from region a to b (set-home) has its site consumers
// moved with it when it has a site: created on b's copies streams,
// deleted from a's; a member without a site gets none.
func TestSiteConsumersMoveWithTheHomeRegion(t *testing.T) {
	w := regiontest.Start(t, regiontest.Options{Regions: []broker.RegionSpec{{Name: "a", Nodes: 1}, {Name: "b", Nodes: 1}},
		Only: []string{"SECTORS", "INBOX", "REJECTIONS"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	js := w.JS("b")
	inA := &tocsinv1.Member{Id: "st-mary", Name: "St. Mary", Sectors: []string{"patient-care"}, HomeRegion: "a", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	inB := proto.CloneOf(inA)
	inB.HomeRegion = "b"
	exists := func(stream, name string) bool {
		t.Helper()
		_, err := js.PushConsumer(ctx, stream, name)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	if err := auth.MoveSiteConsumers(ctx, js, inA, inB); err != nil {
		t.Fatal(err)
	}
	if exists("INBOX-b", "st-mary-site-inbox") {
		t.Fatal("a member without a site got site consumers in region b")
	}

	testwait.Until(ctx, t, "st-mary's site consumers in region a", func() error { return auth.EnsureSiteConsumers(ctx, js, inA) })
	if err := auth.MoveSiteConsumers(ctx, js, inA, inB); err != nil {
		t.Fatal(err)
	}
	for _, c := range auth.SiteConsumers(inB) {
		if !exists(c.Stream, c.Name) {
			t.Fatalf("st-mary moved to b has no site consumer %s on %s", c.Name, c.Stream)
		}
	}
	for _, c := range auth.SiteConsumers(inA) {
		if exists(c.Stream, c.Name) {
			t.Fatalf("st-mary moved to b still has its site consumer %s on %s", c.Name, c.Stream)
		}
	}
	// Staying in b with another sector: nothing to move.
	wider := proto.CloneOf(inB)
	wider.Sectors = append(wider.Sectors, "labs")
	if err := auth.MoveSiteConsumers(ctx, js, inB, wider); err != nil {
		t.Fatal(err)
	}
	c, err := js.PushConsumer(ctx, "SECTORS-b", "st-mary-site-sectors")
	if err != nil {
		t.Fatal(err)
	}
	if f := c.CachedInfo().Config.FilterSubject; f != "tocsin.r.*.sector.patient-care.>" {
		t.Fatalf("st-mary's sectors site consumer filters %q after a move within b, want it unchanged (UpdateSiteConsumers widens it)", f)
	}
}
