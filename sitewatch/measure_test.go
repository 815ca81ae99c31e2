package sitewatch_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// TestTheRecordCarriesTheSitesLagAndBacklog: the hub routes four copies
// to st-mary's sector that its linked site has not taken yet (the hub's
// site consumer holds them), and the last message the site forwarded
// said three more were queued behind it, its outbox 85 % full (the site
// warns at 80 %): the record says lag 4, backlog 3, the backlog's time,
// fill 0.85 and alarm 0.8; cut, the down record keeps them.
func TestTheRecordCarriesTheSitesLagAndBacklog(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 120*time.Second)
	mary := &tocsinv1.Member{Id: "st-mary", Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	if err := auth.EnsureSiteConsumers(ctx, h.js, mary); err != nil {
		t.Fatal(err)
	}
	h.watch()
	leaf(t, h, "st-mary", "site-st-mary-1")
	h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return c.Up && c.SourceLag == 0 && c.OutboxBacklogAt.IsZero() })
	for i := range 4 {
		if _, err := h.js.Publish(ctx, "tocsin.sector.patient-care.flash", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	fwd := nats.NewMsg("tocsin.ingest.status.st-mary") // as the site forwards it (site.forwardOne)
	fwd.Data = []byte("report")
	fwd.Header.Set(records.SiteBacklogHeader, "3")
	fwd.Header.Set(records.SiteOutboxFillHeader, "0.8500")
	fwd.Header.Set(records.SiteOutboxAlarmHeader, "0.8")
	if _, err := h.js.PublishMsg(ctx, fwd); err != nil {
		t.Fatal(err)
	}
	got := h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return c.Up && c.SourceLag == 4 && c.OutboxBacklog == 3 })
	if got.OutboxBacklogAt.IsZero() || time.Since(got.OutboxBacklogAt) > time.Minute {
		t.Fatalf("backlog time %s, want when the hub stored the forwarded message", got.OutboxBacklogAt)
	}
	if got.OutboxFill != 0.85 || got.OutboxAlarm != 0.8 {
		t.Fatalf("outbox fill %v, alarm %v; want the forwarded message's 0.85 and 0.8", got.OutboxFill, got.OutboxAlarm)
	}
	h.proxy.Cut()
	h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return !c.Up && c.SourceLag == 4 && c.OutboxBacklog == 3 })
}
