package site_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
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
