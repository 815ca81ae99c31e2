package site_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestSiteSourcesWhatItsMemberReceives: a site dials the hub as a leaf
// node over TLS with its site credential; what the hub routes to its
// member's sector and inbox lands in the site's streams, and the member's
// agent pulls it from the site through its usual consumers.
func TestSiteSourcesWhatItsMemberReceives(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 90*time.Second)
	s := h.startSite("st-mary", "", t.TempDir())
	testwait.For(t, 20*time.Second, "the leaf link up", testwait.True(func() bool { up, _ := s.Link(); return up }))
	h.route(ctx, "tocsin.sector.patient-care.flash", "a1:patient-care")
	h.route(ctx, "tocsin.inbox.st-mary", "a2:inbox.st-mary")
	h.route(ctx, "tocsin.sector.pharma.flash", "a3:pharma") // another member's sector
	js := localJS(t, s)
	waitMsgs(ctx, t, js, "SECTORS", 1)
	waitMsgs(ctx, t, js, "INBOX", 1)
	c, err := js.Consumer(ctx, "SECTORS", auth.SectorConsumer("st-mary", "patient-care"))
	if err != nil {
		t.Fatalf("the agent's consumer at the site: %v", err)
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if got := string(m.Data()); got != "a1:patient-care" {
			t.Fatalf("site delivered %q", got)
		}
		fmt.Println("agent at the site read", m.Subject())
	}
}

// TestSiteConsumersFollowTheMembersSectors: a member with a site gains a
// sector; UpdateSiteConsumers (what tocsin members runs with every
// change) widens its site consumer, and creates none for a member without
// a site.
func TestSiteConsumersFollowTheMembersSectors(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 60*time.Second)
	mary := h.member("st-mary")
	mary.Sectors = append(mary.Sectors, "health-it")
	if err := auth.UpdateSiteConsumers(ctx, h.svcJS, mary); err != nil {
		t.Fatal(err)
	}
	c, err := h.svcJS.PushConsumer(ctx, "SECTORS", "st-mary-site-sectors")
	if err != nil {
		t.Fatal(err)
	}
	if f := c.CachedInfo().Config.FilterSubjects; len(f) != 2 || f[1] != "tocsin.sector.health-it.>" {
		t.Fatalf("st-mary's site consumer filters %v, want its two sectors", f)
	}
	nobody := &tocsinv1.Member{Id: "no-site", Sectors: []string{"pharma"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	if err := auth.UpdateSiteConsumers(ctx, h.svcJS, nobody); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcJS.PushConsumer(ctx, "INBOX", "no-site-site-inbox"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("a member without a site got site consumers: %v", err)
	}
}
