package auth_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/subjects"
)

// lanes are the routed lanes of a sector.
var lanes = []string{"flash", "urgent", "routine", "info"}

// replyTargets are the reply subjects an attacker aims answers at: every
// lane of the victim's sector, the victim's direct inbox and rejections,
// and the victim's reply-inbox prefix.
func replyTargets(victim, sector string) []string {
	var out []string
	for _, l := range lanes {
		out = append(out, subjects.Sector(sector, l))
	}
	return append(out, subjects.Inbox(victim), subjects.Rejection(victim), auth.InboxPrefix(victim)+".x", auth.InboxPrefix(victim)+".x.y")
}

// concrete turns an allow-list subject into one a request can be sent to,
// and a body that makes the answering side answer (a pull that returns at
// once, a direct get, a publish's PubAck).
func concrete(subject string) (string, []byte) {
	s := strings.ReplaceAll(subject, "*", "probe")
	if strings.HasSuffix(s, ">") {
		tail := "probe"
		if strings.HasPrefix(s, "$JS.ACK.") {
			tail = "1.1.1.1.0"
		}
		s = strings.TrimSuffix(s, ">") + tail
	}
	switch {
	case strings.HasPrefix(s, "$JS.API.CONSUMER.MSG.NEXT."):
		return s, []byte(`{"batch":3,"no_wait":true}`)
	case strings.HasPrefix(s, "$JS.API.DIRECT.GET.") && !strings.Contains(strings.TrimPrefix(s, "$JS.API.DIRECT.GET."), "."):
		return s, []byte(`{"seq":1,"batch":10,"next_by_subj":">"}`)
	case strings.HasPrefix(s, "$JS.API.STREAM.MSG.GET."):
		return s, []byte(`{"seq":1}`)
	}
	return s, []byte("probe")
}

// TestNoMemberCanMakeAnythingArriveAtAnother is the attacker's test of the
// isolation model (docs/SECURITY.md): for every role, every subject its
// permissions let it publish to (ingest, every JetStream API subject, the
// services' requests) is sent a request whose reply subject is one the
// victim receives: its sector's lanes, its inbox, its rejections, its
// reply inbox. The victim, subscribed to all it may see, must receive
// nothing of it. Controls: the attackers' own pulls and live views still
// work, and a message routed to the victim after the attempts arrives, so
// that silence cannot mean a broken subscription.
func TestNoMemberCanMakeAnythingArriveAtAnother(t *testing.T) {
	ac := startAuthCluster(t)
	ctx := testContext(t, 120*time.Second)
	const victimID, victimSector = "st-mary", "patient-care"
	victimConn := ac.member(victimID, 2)
	seen := make(chan *nats.Msg, 4096)
	for _, s := range []string{subjects.SectorAll(victimSector), subjects.Inbox(victimID), auth.InboxPrefix(victimID) + ".>"} {
		if _, err := victimConn.nc.ChanSubscribe(s, seen); err != nil {
			t.Fatal(err)
		}
	}
	if err := victimConn.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The services answer every request (the aid service, the situation
	// board, the directory, consumer re-creation, status), as a service
	// does: to the request's reply subject.
	var answered atomic.Int64
	svcSub, err := ac.svc.Subscribe("tocsin.svc.>", func(m *nats.Msg) {
		answered.Add(1)
		_ = m.Respond([]byte("service answer to " + m.Subject))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svcSub.Unsubscribe()
	// Something for every attacker's consumers to hand out.
	for _, m := range ac.members {
		for _, s := range m.Sectors {
			ac.svcPublish(ctx, t, subjects.Sector(s, "flash"), "routed to "+s)
		}
		ac.svcPublish(ctx, t, subjects.Inbox(m.Id), "inbox of "+m.Id)
		ac.svcPublish(ctx, t, subjects.Rejection(m.Id), "rejection of "+m.Id)
	}
	drain(seen)

	attempts := 0
	for _, attacker := range []string{"acme-pharma", "ir-firm", "hhs-liaison", "admin", vendorID} {
		perms, err := auth.Permissions(ac.memberRecord(attacker))
		if err != nil {
			t.Fatal(err)
		}
		mc := ac.member(attacker, 1)
		for _, allowed := range perms.Pub.Allow {
			subject, body := concrete(allowed)
			for _, reply := range replyTargets(victimID, victimSector) {
				msg := &nats.Msg{Subject: subject, Reply: reply, Data: body}
				if strings.HasPrefix(subject, subjects.Prefix+".ingest.") {
					msg.Header = nats.Header{"Nats-Msg-Id": []string{fmt.Sprintf("probe-%d", attempts)}}
				}
				if err := mc.nc.PublishMsg(msg); err != nil {
					t.Fatalf("%s: publish %s reply %s: %v", attacker, subject, reply, err)
				}
				attempts++
			}
		}
		if err := mc.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d attempts by 5 roles at %d reply subjects each; the services answered %d requests", attempts, len(replyTargets(victimID, victimSector)), answered.Load())

	// Control: a message routed to the victim now arrives. Pulls answer at
	// once (no_wait), and so do the services, so anything injected is on
	// its way already; the grace period after the control catches what
	// travels through other nodes.
	ac.svcPublish(ctx, t, subjects.Sector(victimSector, "flash"), "control")
	var injected []string
	deadline := time.After(30 * time.Second)
	for gotControl := false; !gotControl; {
		select {
		case m := <-seen:
			if string(m.Data) == "control" {
				gotControl = true
				continue
			}
			injected = append(injected, fmt.Sprintf("%s: %.80q", m.Subject, m.Data))
		case <-deadline:
			t.Fatal("the victim never saw the control message: its live view is broken, so silence proves nothing")
		}
	}
	grace := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case m := <-seen:
			injected = append(injected, fmt.Sprintf("%s: %.80q", m.Subject, m.Data))
		case <-grace:
			done = true
		}
	}
	if len(injected) > 0 {
		t.Fatalf("the victim received %d injected messages, for example %s", len(injected), strings.Join(injected[:min(5, len(injected))], "; "))
	}

	// Controls for the attackers: their own pulls and live views work.
	mc := ac.member("acme-pharma", 0)
	live := make(chan *nats.Msg, 16)
	if _, err := mc.nc.ChanSubscribe(subjects.SectorAll("pharma"), live); err != nil {
		t.Fatal(err)
	}
	if err := mc.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ac.svcPublish(ctx, t, subjects.Sector("pharma", "urgent"), "live for pharma")
	select {
	case m := <-live:
		if string(m.Data) != "live for pharma" {
			t.Fatalf("pharma's live view: %q", m.Data)
		}
	case <-ctx.Done():
		t.Fatal("the attacker's own live view is broken")
	}
	ac.expectFetch(ctx, t, mc, "SECTORS", auth.SectorConsumer("acme-pharma", "pharma"), "live for pharma")
}

// svcPublish stores data on subject as the router would, with the service
// connection, and waits for the stream's acknowledgement.
func (ac *authCluster) svcPublish(ctx context.Context, t *testing.T, subject, data string) {
	t.Helper()
	if _, err := ac.svcJS.Publish(ctx, subject, []byte(data)); err != nil {
		t.Fatalf("publish %s as the service: %v", subject, err)
	}
}

func drain(ch chan *nats.Msg) {
	for {
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}
