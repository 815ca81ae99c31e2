package auth_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/kvread"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/subjects"
)

// The actors of the enforcement table, one per role, and their victim.
const (
	victim       = "acme-pharma" // member of pharma; nobody else's sector
	victimSector = "pharma"
)

var actors = []string{"st-mary", "ir-firm", "hhs-liaison", "admin", vendorID}

// readerIDs are the actors with the member, responder or liaison role.
var readerIDs = []string{"st-mary", "ir-firm", "hhs-liaison"}

// violationWait bounds how long a refusal may take to come back.
const violationWait = 5 * time.Second

// forbidden is one thing a role must not do. kind says how it is tried;
// subject (with "<self>" replaced by the actor's id) is what the server
// must name when it refuses; allowed lists actors for which the row is
// checked as allowed elsewhere and so skipped here.
type forbidden struct {
	name    string
	kind    string // "pub", "sub", "qsub" or "req"
	subject string
	body    string
	sample  string // for sub rows: a subject the service publishes on, which must not arrive
	allowed []string
}

func forbiddenRows() []forbidden {
	victimConsumer := auth.SectorConsumer(victim, victimSector)
	return []forbidden{
		{name: "publish on another member's ingest subject", kind: "pub", subject: "tocsin.ingest.alert." + victim},
		{name: "publish an advisory", kind: "pub", subject: "tocsin.ingest.advisory.<self>", allowed: []string{"hhs-liaison", vendorID}},
		// What only the hospitals' roles may do, refused to a vendor (and an admin).
		{name: "publish its own alert", kind: "pub", subject: "tocsin.ingest.alert.<self>", allowed: readerIDs},
		{name: "publish its own sighting", kind: "pub", subject: "tocsin.ingest.sighting.<self>", allowed: readerIDs},
		{name: "publish its own aid message", kind: "pub", subject: "tocsin.ingest.aid.<self>", allowed: readerIDs},
		{name: "publish its own status report", kind: "pub", subject: "tocsin.ingest.status.<self>", allowed: readerIDs},
		{name: "ask the mutual-aid service as itself", kind: "req", subject: subjects.SvcAidPrefix + "<self>.list", allowed: readerIDs},
		{name: "ask for the situation board as itself", kind: "req", subject: subjects.SvcSituation("<self>"), allowed: readerIDs},
		{name: "publish straight to a sector (around the router)", kind: "pub", subject: "tocsin.sector.patient-care.flash"},
		{name: "publish straight to another member's inbox", kind: "pub", subject: "tocsin.inbox." + victim},
		{name: "publish to the mutual-aid audit trail", kind: "pub", subject: "tocsin.aid.r1.accepted"},
		{name: "subscribe to another sector", kind: "sub", subject: "tocsin.sector.pharma.>", sample: "tocsin.sector.pharma.flash"},
		{name: "subscribe to another member's inbox", kind: "sub", subject: "tocsin.inbox." + victim, sample: "tocsin.inbox." + victim},
		{name: "subscribe to the ingest subjects", kind: "sub", subject: "tocsin.ingest.>", sample: "tocsin.ingest.alert." + victim},
		{name: "subscribe to _INBOX.>", kind: "sub", subject: "_INBOX.>", sample: "_INBOX.x"},
		{name: "subscribe to another member's reply inbox", kind: "sub", subject: auth.InboxPrefix(victim) + ".>", sample: auth.InboxPrefix(victim) + ".x"},
		{name: "subscribe with a wildcard over forbidden subjects (tocsin.>)", kind: "sub", subject: "tocsin.>", sample: "tocsin.sector.pharma.flash"},
		{name: "subscribe with a wildcard over other sectors (tocsin.sector.*.*)", kind: "sub", subject: "tocsin.sector.*.*", sample: "tocsin.sector.pharma.flash"},
		{name: "subscribe to everything (>)", kind: "sub", subject: ">", sample: "tocsin.sector.pharma.flash"},
		{name: "queue-subscribe to another sector (GHSA-jx8g-9g95-6322)", kind: "qsub", subject: "tocsin.sector.pharma.>", sample: "tocsin.sector.pharma.flash"},
		{name: "queue-subscribe with a wildcard (GHSA-jx8g-9g95-6322)", kind: "qsub", subject: "tocsin.>", sample: "tocsin.sector.pharma.flash"},
		{name: "stream info", kind: "req", subject: "$JS.API.STREAM.INFO.SECTORS"},
		{name: "stream names", kind: "req", subject: "$JS.API.STREAM.NAMES"},
		{name: "account info", kind: "req", subject: "$JS.API.INFO"},
		{name: "consumer create on a stream it may not read", kind: "req", subject: "$JS.API.CONSUMER.CREATE.INGEST.<self>-x.tocsin.ingest.>",
			body: `{"stream_name":"INGEST","config":{"name":"<self>-x","filter_subject":"tocsin.ingest.>"}}`},
		{name: "consumer create with its own name and another sector's filter", kind: "req", subject: "$JS.API.CONSUMER.CREATE.SECTORS.<self>-patient-care.tocsin.sector.pharma.>",
			body: `{"stream_name":"SECTORS","config":{"name":"<self>-patient-care","filter_subject":"tocsin.sector.pharma.>"}}`},
		{name: "consumer create (push, deliver subject elsewhere) with its own name and filter", kind: "req", subject: "$JS.API.CONSUMER.CREATE.SECTORS.<self>-patient-care.tocsin.sector.patient-care.>",
			body: `{"stream_name":"SECTORS","config":{"name":"<self>-patient-care","filter_subject":"tocsin.sector.patient-care.>","deliver_subject":"tocsin.inbox.` + victim + `"}}`},
		{name: "consumer create with another member's consumer name", kind: "req", subject: "$JS.API.CONSUMER.CREATE.SECTORS." + victimConsumer + ".tocsin.sector.pharma.>",
			body: `{"stream_name":"SECTORS","config":{"name":"` + victimConsumer + `","filter_subject":"tocsin.sector.pharma.>"}}`},
		{name: "consumer create with filters in the body only", kind: "req", subject: "$JS.API.CONSUMER.CREATE.SECTORS.<self>-sectors",
			body: `{"stream_name":"SECTORS","config":{"name":"<self>-patient-care","filter_subjects":["tocsin.sector.pharma.>"]}}`},
		{name: "legacy durable consumer create", kind: "req", subject: "$JS.API.CONSUMER.DURABLE.CREATE.SECTORS.<self>-sectors",
			body: `{"stream_name":"SECTORS","config":{"durable_name":"<self>-sectors"}}`},
		{name: "pull from another member's consumer", kind: "req", subject: "$JS.API.CONSUMER.MSG.NEXT.SECTORS." + victimConsumer, body: `{"batch":1}`},
		{name: "look up another member's consumer", kind: "req", subject: "$JS.API.CONSUMER.INFO.SECTORS." + victimConsumer},
		{name: "ack on another member's consumer", kind: "pub", subject: "$JS.ACK.SECTORS." + victimConsumer + ".1.1.1.1.0"},
		{name: "delete another member's consumer", kind: "req", subject: "$JS.API.CONSUMER.DELETE.SECTORS." + victimConsumer},
		{name: "purge a stream", kind: "req", subject: "$JS.API.STREAM.PURGE.SECTORS"},
		{name: "delete a stream", kind: "req", subject: "$JS.API.STREAM.DELETE.SECTORS"},
		{name: "delete a message", kind: "req", subject: "$JS.API.STREAM.MSG.DELETE.AID_AUDIT", body: `{"seq":1}`},
		{name: "restore a stream under another name (CVE-2026-33222)", kind: "req", subject: "$JS.API.STREAM.RESTORE.SECTORS",
			body: `{"config":{"name":"SECTORS","subjects":["tocsin.sector.>"]}}`},
		{name: "direct get of another sector's message", kind: "req", subject: "$JS.API.DIRECT.GET.SECTORS.tocsin.sector.pharma.flash"},
		{name: "direct get with the subject in the body", kind: "req", subject: "$JS.API.DIRECT.GET.SECTORS", body: `{"last_by_subj":"tocsin.sector.pharma.flash"}`},
		{name: "message get of another sector's message", kind: "req", subject: "$JS.API.STREAM.MSG.GET.SECTORS", body: `{"last_by_subj":"tocsin.sector.pharma.flash"}`},
		{name: "direct get of another member's router outcome", kind: "req", subject: auth.RoutedGetSubject(victim, "m1")},
		{name: "direct get of every sender's router outcome (wildcard token)", kind: "req", subject: auth.RoutedGetSubject("*", "m1")},
		{name: "read the reach bucket", kind: "req", subject: "$JS.API.DIRECT.GET.KV_REACH.$KV.REACH.m1." + victim, allowed: []string{"hhs-liaison"}},
		{name: "read the member registry", kind: "req", subject: "$JS.API.DIRECT.GET.KV_MEMBERS.$KV.MEMBERS." + victim, allowed: []string{"admin"}},
		{name: "write the member registry", kind: "pub", subject: "$KV.MEMBERS." + victim, allowed: []string{"admin"}},
		{name: "read the access tokens", kind: "req", subject: "$JS.API.DIRECT.GET.KV_WEBTOKENS.$KV.WEBTOKENS." + victim + ".t1", allowed: []string{"admin"}},
		{name: "issue an access token", kind: "pub", subject: "$KV.WEBTOKENS.<self>.t1", allowed: []string{"admin"}},
		{name: "ask for cluster status", kind: "req", subject: subjects.SvcStatus, allowed: []string{"admin"}},
		{name: "ask for members' contacts", kind: "req", subject: subjects.SvcContacts("<self>"), allowed: []string{"hhs-liaison"}},
		{name: "ask for members' contacts as another member", kind: "req", subject: subjects.SvcContacts(victim)},
		{name: "ask for the reach of a message as another member", kind: "req", subject: subjects.SvcReach(victim)},
		{name: "consumer create on the registry (push, deliver subject a member's routed subject)", kind: "req", subject: "$JS.API.CONSUMER.CREATE.KV_MEMBERS.x.$KV.MEMBERS.>",
			body: `{"stream_name":"KV_MEMBERS","config":{"name":"x","filter_subject":"$KV.MEMBERS.>","deliver_subject":"tocsin.sector.patient-care.flash"}}`},
		{name: "consumer create on the access tokens", kind: "req", subject: "$JS.API.CONSUMER.CREATE.KV_WEBTOKENS.x.$KV.WEBTOKENS.>",
			body: `{"stream_name":"KV_WEBTOKENS","config":{"name":"x","filter_subject":"$KV.WEBTOKENS.>","deliver_subject":"tocsin.inbox.` + victim + `"}}`},
		{name: "purge another account's JetStream (CVE-2025-30215)", kind: "req", subject: "$JS.API.ACCOUNT.PURGE.<account>"},
		{name: "remove a JetStream server (CVE-2025-30215)", kind: "req", subject: "$JS.API.SERVER.REMOVE", body: `{"peer":"tocsin-1"}`},
		{name: "move a stream (CVE-2025-30215)", kind: "req", subject: "$JS.API.ACCOUNT.STREAM.MOVE.<account>.SECTORS"},
		{name: "push an account JWT", kind: "req", subject: "$SYS.REQ.CLAIMS.UPDATE", body: "not-a-jwt"},
		{name: "ping every server", kind: "req", subject: "$SYS.REQ.SERVER.PING"},
	}
}

// TestServerRefusesForbiddenActions runs every forbidden row for every
// role and checks that the server itself refuses it: a permissions
// violation naming the subject, and nothing delivered.
func TestServerRefusesForbiddenActions(t *testing.T) {
	ac := startAuthCluster(t)
	for _, actor := range actors {
		for _, row := range forbiddenRows() {
			if slices.Contains(row.allowed, actor) {
				continue
			}
			t.Run(actor+"/"+row.name, func(t *testing.T) {
				ac.expectRefused(t, actor, row)
			})
		}
	}
}

func (ac *authCluster) expand(actor, s string) string {
	return strings.NewReplacer("<self>", actor, "<account>", ac.a.Account()).Replace(s)
}

// expectRefused tries row as actor on node 1 (not the node the cluster was
// provisioned through) and fails unless the server refuses it.
func (ac *authCluster) expectRefused(t *testing.T, actor string, row forbidden) {
	mc := ac.member(actor, 1)
	subject, body := ac.expand(actor, row.subject), ac.expand(actor, row.body)
	var delivered *nats.Subscription // where anything that got through would arrive
	var sample string
	switch row.kind {
	case "pub":
		if err := mc.nc.Publish(subject, []byte(body)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	case "sub", "qsub":
		var err error
		if row.kind == "qsub" {
			delivered, err = mc.nc.QueueSubscribeSync(subject, "q")
		} else {
			delivered, err = mc.nc.SubscribeSync(subject)
		}
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		sample = row.sample
	case "req":
		inbox := mc.nc.NewInbox()
		var err error
		if delivered, err = mc.nc.SubscribeSync(inbox); err != nil {
			t.Fatal(err)
		}
		if err := mc.nc.PublishRequest(subject, inbox, []byte(body)); err != nil {
			t.Fatalf("request: %v", err)
		}
	default:
		t.Fatalf("unknown kind %q", row.kind)
	}
	if err := mc.violation(subject, violationWait); err != nil {
		t.Fatalf("%s %q as %s: %v", row.kind, subject, actor, err)
	}
	if delivered == nil {
		return
	}
	if sample != "" {
		if err := ac.svc.Publish(sample, []byte("must not arrive")); err != nil {
			t.Fatal(err)
		}
		if err := ac.svc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := mc.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if msg, err := delivered.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("%s %q as %s: refused, yet %q arrived on %s", row.kind, subject, actor, msg.Data, msg.Subject)
	}
}

// TestServerAllowsWhatEachRoleNeeds is the other half of the table: what a
// role must be able to do works, so the refusals above are not just a
// broken connection.
func TestServerAllowsWhatEachRoleNeeds(t *testing.T) {
	ac := startAuthCluster(t)
	ctx := testContext(t, 60*time.Second)
	readers := map[string]string{"st-mary": "patient-care", "ir-firm": "patient-care", "hhs-liaison": "federal"}
	for actor, sector := range readers {
		t.Run(actor+"/publish its own alert, receipt, sighting, aid, status", func(t *testing.T) {
			mc := ac.member(actor, 1)
			for _, kind := range []string{"alert", "receipt", "sighting", "aid", "status"} {
				ack, err := mc.js.Publish(ctx, "tocsin.ingest."+kind+"."+actor, []byte(kind), jetstream.WithMsgID(actor+"-"+kind))
				if err != nil || ack.Stream != "INGEST" {
					t.Fatalf("publish %s: ack %+v err %v", kind, ack, err)
				}
			}
		})
		t.Run(actor+"/read its sector, inbox and rejections and ack", func(t *testing.T) {
			mc := ac.member(actor, 2)
			for _, subj := range []string{"tocsin.sector." + sector + ".flash", "tocsin.inbox." + actor, "tocsin.rejection." + actor} {
				if _, err := ac.svcJS.Publish(ctx, subj, []byte("for "+actor)); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct{ stream, name string }{
				{"SECTORS", auth.SectorConsumer(actor, sector)},
				{"INBOX", auth.InboxConsumer(actor)},
				{"REJECTIONS", auth.RejectionsConsumer(actor)},
			} {
				ac.expectFetch(ctx, t, mc, c.stream, c.name, "for "+actor)
			}
		})
		t.Run(actor+"/read the router's outcome of its own message", func(t *testing.T) {
			mc := ac.member(actor, 0)
			kv, err := ac.svcJS.KeyValue(ctx, "ROUTED")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, actor+".m1", []byte("routed")); err != nil {
				t.Fatal(err)
			}
			ac.expectGet(ctx, t, mc, auth.RoutedGetSubject(actor, "m1"), nil, "routed")
		})
	}
	t.Run("ir-firm/offer aid", func(t *testing.T) {
		mc := ac.member("ir-firm", 1)
		if _, err := mc.js.Publish(ctx, "tocsin.ingest.aid.ir-firm", []byte("offer"), jetstream.WithMsgID("offer-1")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("hhs-liaison/publish an advisory and read reach", func(t *testing.T) {
		mc := ac.member("hhs-liaison", 1)
		if _, err := mc.js.Publish(ctx, "tocsin.ingest.advisory.hhs-liaison", []byte("adv"), jetstream.WithMsgID("adv-1")); err != nil {
			t.Fatal(err)
		}
		kv, err := ac.svcJS.KeyValue(ctx, "REACH")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "adv-1."+victim, []byte("delivered")); err != nil {
			t.Fatal(err)
		}
		ac.expectGet(ctx, t, mc, "$JS.API.DIRECT.GET.KV_REACH.$KV.REACH.adv-1."+victim, nil, "delivered")
		ac.expectGet(ctx, t, mc, "$JS.API.DIRECT.GET.KV_REACH", []byte(`{"last_by_subj":"$KV.REACH.adv-1.`+victim+`"}`), "delivered")
	})
	t.Run("hhs-liaison/ask for members' contacts", func(t *testing.T) {
		sub, err := ac.svc.Subscribe(subjects.SvcContacts("hhs-liaison"), func(m *nats.Msg) { _ = m.Respond([]byte("contacts")) })
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := ac.svc.Flush(); err != nil {
			t.Fatal(err)
		}
		mc := ac.member("hhs-liaison", 1)
		testwait.For(t, 10*time.Second, "the contacts answer", func() error {
			msg, err := mc.nc.RequestWithContext(ctx, subjects.SvcContacts("hhs-liaison"), nil)
			if err == nil && string(msg.Data) != "contacts" {
				err = fmt.Errorf("answer %q", msg.Data)
			}
			return err
		})
	})
	t.Run("admin/manage the registry and ask for status", func(t *testing.T) {
		ac.expectAdminWorks(ctx, t)
	})
	t.Run(vendorID+"/publish an advisory and a receipt, read its sector, inbox, rejections and outcomes, ask the directory and its reach", func(t *testing.T) {
		ac.expectVendorWorks(ctx, t)
	})
}

// expectVendorWorks: what the vendor row of docs/SECURITY.md grants works
// for the test registry's vendor (a device maker in patient-care).
func (ac *authCluster) expectVendorWorks(ctx context.Context, t *testing.T) {
	t.Helper()
	mc := ac.member(vendorID, 1)
	for _, kind := range []string{"advisory", "receipt"} {
		ack, err := mc.js.Publish(ctx, "tocsin.ingest."+kind+"."+vendorID, []byte(kind), jetstream.WithMsgID(vendorID+"-"+kind))
		if err != nil || ack.Stream != "INGEST" {
			t.Fatalf("publish %s: ack %+v err %v", kind, ack, err)
		}
	}
	for _, subj := range []string{"tocsin.sector.patient-care.urgent", "tocsin.inbox." + vendorID, "tocsin.rejection." + vendorID} {
		if _, err := ac.svcJS.Publish(ctx, subj, []byte("for "+vendorID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ stream, name string }{
		{"SECTORS", auth.SectorConsumer(vendorID, "patient-care")},
		{"INBOX", auth.InboxConsumer(vendorID)},
		{"REJECTIONS", auth.RejectionsConsumer(vendorID)},
	} {
		ac.expectFetch(ctx, t, mc, c.stream, c.name, "for "+vendorID)
	}
	kv, err := ac.svcJS.KeyValue(ctx, "ROUTED")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, vendorID+".m1", []byte("routed")); err != nil {
		t.Fatal(err)
	}
	ac.expectGet(ctx, t, mc, auth.RoutedGetSubject(vendorID, "m1"), nil, "routed")
	for _, svc := range []string{subjects.SvcDirectory, subjects.SvcReach(vendorID), subjects.SvcConsumer(vendorID)} {
		sub, err := ac.svc.Subscribe(svc, func(m *nats.Msg) { _ = m.Respond([]byte("answer")) })
		if err != nil {
			t.Fatal(err)
		}
		if err := ac.svc.Flush(); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, 10*time.Second, "the answer to "+svc, func() error {
			msg, err := mc.nc.RequestWithContext(ctx, svc, nil)
			if err == nil && string(msg.Data) != "answer" {
				err = fmt.Errorf("answer %q", msg.Data)
			}
			return err
		})
		_ = sub.Unsubscribe()
	}
}

func (ac *authCluster) expectFetch(ctx context.Context, t *testing.T, mc *memberConn, stream, name, want string) {
	t.Helper()
	cons, err := mc.js.Consumer(ctx, stream, name)
	if err != nil {
		t.Fatalf("consumer %s/%s: %v", stream, name, err)
	}
	var got []string
	for !slices.Contains(got, want) {
		batch, err := cons.FetchNoWait(10)
		if err != nil || ctx.Err() != nil {
			t.Fatalf("fetch %s/%s: %v (got %q, want %q)", stream, name, err, got, want)
		}
		for msg := range batch.Messages() {
			got = append(got, string(msg.Data()))
			if err := msg.DoubleAck(ctx); err != nil {
				t.Fatalf("ack %s/%s: %v", stream, name, err)
			}
		}
		if batch.Error() != nil {
			t.Fatalf("fetch %s/%s: %v", stream, name, batch.Error())
		}
	}
}

// expectGet sends a direct get until it answers want: a get may be served
// by a replica that has not applied the write yet.
func (ac *authCluster) expectGet(ctx context.Context, t *testing.T, mc *memberConn, subject string, body []byte, want string) {
	t.Helper()
	testwait.Until(ctx, t, "direct get "+subject, func() error {
		msg, err := mc.nc.RequestWithContext(ctx, subject, body)
		if err == nil && string(msg.Data) == want {
			return nil
		}
		return fmt.Errorf("last answer %v, error %v; want %q", msg, err, want)
	})
}

func (ac *authCluster) expectAdminWorks(ctx context.Context, t *testing.T) {
	t.Helper()
	svcSub, err := ac.svc.Subscribe(subjects.SvcStatus, func(m *nats.Msg) { m.Respond([]byte("ok")) })
	if err != nil {
		t.Fatal(err)
	}
	defer svcSub.Unsubscribe()
	if err := ac.svc.Flush(); err != nil {
		t.Fatal(err)
	}
	mc := ac.member("admin", 2)
	if msg, err := mc.nc.Request(subjects.SvcStatus, nil, 5*time.Second); err != nil || string(msg.Data) != "ok" {
		t.Fatalf("status: %v %v", msg, err)
	}
	kv, err := mc.js.KeyValue(ctx, "MEMBERS")
	if err != nil {
		t.Fatalf("bind registry: %v", err)
	}
	if _, err := kv.Put(ctx, victim, []byte("record")); err != nil {
		t.Fatalf("put: %v", err)
	}
	testwait.Until(ctx, t, "get", func() error {
		e, err := kv.Get(ctx, victim)
		if err == nil && string(e.Value()) == "record" {
			return nil
		}
		return fmt.Errorf("%v %v", e, err)
	})
	// The registry listed without a consumer (admins may create none).
	testwait.Until(ctx, t, "list the registry", func() error {
		entries, err := kvread.Latest(ctx, mc.nc, "$JS.API.", "MEMBERS", ">")
		if err == nil && slices.ContainsFunc(entries, func(e kvread.Entry) bool { return e.Key == victim && string(e.Value) == "record" }) {
			return nil
		}
		return fmt.Errorf("%v %v", entries, err)
	})
}
