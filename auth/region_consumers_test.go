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
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// A member's consumers are named for its home region's streams and filter
// every region's copies; a member of no region keeps the single cluster's.
func TestConsumersOfAMemberHomedInARegion(t *testing.T) {
	m := &tocsinv1.Member{Id: "st-mary", Sectors: []string{"patient-care", "labs"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	plain := auth.Consumers(m)
	if plain[0].Stream != "SECTORS" || !slices.Equal(plain[0].Filters, []string{"tocsin.sector.patient-care.>", "tocsin.sector.labs.>"}) ||
		plain[1].Stream != "INBOX" || plain[1].Filters[0] != "tocsin.inbox.st-mary" || plain[2].Stream != "REJECTIONS" {
		t.Fatalf("consumers of a member of no region: %+v", plain)
	}
	m.HomeRegion = "east"
	want := []auth.Consumer{
		{Stream: "SECTORS-east", Name: "st-mary-sectors", Filters: []string{"tocsin.r.*.sector.patient-care.>", "tocsin.r.*.sector.labs.>"}},
		{Stream: "INBOX-east", Name: "st-mary-inbox", Filters: []string{"tocsin.r.*.inbox.st-mary"}},
		{Stream: "REJECTIONS-east", Name: "st-mary-rejections", Filters: []string{"tocsin.r.*.rejection.st-mary"}},
	}
	got := auth.Consumers(m)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("consumers of a member homed in east: %+v, want %+v", got, want)
	}
	p, err := auth.Permissions(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"$JS.API.CONSUMER.MSG.NEXT.SECTORS-east.st-mary-sectors", "$JS.API.CONSUMER.INFO.INBOX-east.st-mary-inbox", "$JS.ACK.REJECTIONS-east.st-mary-rejections.>"} {
		if !slices.Contains(p.Pub.Allow, s) {
			t.Fatalf("permissions of a member homed in east lack %s: %v", s, p.Pub.Allow)
		}
	}
	if slices.ContainsFunc(p.Pub.Allow, func(s string) bool { return strings.Contains(s, ".SECTORS.") }) {
		t.Fatalf("a member homed in east may still use SECTORS: %v", p.Pub.Allow)
	}
}

// A member homed in region b of a 3 + 3 + 1 supercluster reads, through
// its consumers on b's copies streams, the copies routed in region a
// (sourced into b's) and in region b, asks b for its reach, and keeps
// reading b's copies after region a is lost.
func TestAMemberHomedInARegionReadsEveryRegionsCopiesThere(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sc, err := broker.StartSupercluster(ctx, broker.SuperclusterOptions{
		Regions: []broker.RegionSpec{{Name: "a"}, {Name: "b"}, {Name: "w", Nodes: 1}}, DataDir: t.TempDir(),
		Configure: func(_ string, _ int, o *broker.NodeOptions) { o.Auth = a.ServerAuth(nil) },
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start supercluster: %v", err)
	}
	t.Cleanup(sc.Shutdown)
	connect := func(region string, creds []byte, opts ...nats.Option) jetstream.JetStream {
		t.Helper()
		opt, err := auth.CredsOption(creds)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(sc.ClientURL(region), append(opts, opt, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))...)
		if err != nil {
			t.Fatalf("connect to region %s: %v", region, err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	svc, err := a.IssueService("svc-test")
	if err != nil {
		t.Fatal(err)
	}
	jsA, jsB := connect("a", svc), connect("b", svc)
	// Each region's ingest and copies streams, as its stream set has them.
	for _, r := range []string{"a", "b"} {
		set := broker.RegionSet{Region: r, Regions: []string{"a", "b"}, RegistryRegion: "a"}
		for _, cfg := range set.StreamConfigs() {
			if !slices.Contains([]string{"INGEST", "SECTORS", "INBOX", "REJECTIONS"}, strings.TrimSuffix(cfg.Name, "-"+r)) {
				continue
			}
			testwait.For(t, 60*time.Second, "stream "+cfg.Name+" placed in region "+r, func() error {
				_, err := jsB.CreateOrUpdateStream(ctx, cfg)
				return err
			})
		}
	}

	m := &tocsinv1.Member{Id: "st-mary", Name: "St. Mary", Sectors: []string{"patient-care"}, HomeRegion: "b",
		Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	creds, pub, err := a.IssueMember(m)
	if err != nil {
		t.Fatal(err)
	}
	m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	testwait.For(t, 60*time.Second, "st-mary's consumers in region b", func() error { return auth.EnsureConsumers(ctx, jsB, m) })
	jwts, err := a.AccountJWTsOf([]*tocsinv1.Member{m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sysCreds, err := a.IssueSystemUser("push")
	if err != nil {
		t.Fatal(err)
	}
	sysOpt, _ := auth.CredsOption(sysCreds)
	sys, err := nats.Connect(sc.ClientURL("a"), sysOpt, nats.CustomInboxPrefix(auth.InboxPrefix("push")))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if _, err := auth.PushAccounts(ctx, sys, jwts, 7); err != nil {
		t.Fatalf("push st-mary's account to all 7 nodes: %v", err)
	}

	publish := func(js jetstream.JetStream, subject, prefix string, n int) []string {
		t.Helper()
		var ids []string
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i)
			testwait.For(t, 60*time.Second, "publish "+id, func() error {
				_, err := js.Publish(ctx, subject, []byte(id), jetstream.WithMsgID(id))
				return err
			})
			ids = append(ids, id)
		}
		return ids
	}
	member := connect("b", creds, nats.CustomInboxPrefix(auth.InboxPrefix("st-mary")))
	read := func(stream, consumer string, want []string) {
		t.Helper()
		cons, err := member.Consumer(ctx, stream, consumer)
		if err != nil {
			t.Fatalf("st-mary's consumer %s on %s: %v", consumer, stream, err)
		}
		got := map[string]bool{}
		testwait.For(t, 60*time.Second, fmt.Sprintf("st-mary reads %d copies through %s", len(want), stream), func() error {
			b, err := cons.Fetch(len(want), jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				return err
			}
			for msg := range b.Messages() {
				got[string(msg.Data())] = true
				if err := msg.Ack(); err != nil {
					return err
				}
			}
			for _, id := range want {
				if !got[id] {
					return fmt.Errorf("read %d, not %s yet", len(got), id)
				}
			}
			return nil
		})
		if len(got) != len(want) {
			t.Fatalf("st-mary read %v through %s, want exactly %v", got, stream, want)
		}
	}
	routed := append(publish(jsA, "tocsin.r.a.sector.patient-care.flash", "a", 5), publish(jsB, "tocsin.r.b.sector.patient-care.urgent", "b", 5)...)
	publish(jsA, "tocsin.r.a.sector.labs.flash", "labs", 2) // not its sector
	read("SECTORS-b", auth.SectorsConsumer("st-mary"), routed)
	read("INBOX-b", auth.InboxConsumer("st-mary"), publish(jsA, "tocsin.r.a.inbox.st-mary", "inbox-a", 2))

	// Its reach requests, on its usual subject, go to its home region's
	// routers (here a service answering b's subject).
	sub, err := jsB.Conn().Subscribe("tocsin.r.b.svc.reach.st-mary", func(m *nats.Msg) { _ = m.Respond([]byte("region b")) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = jsB.Conn().Flush()
	testwait.For(t, 30*time.Second, "st-mary's reach request answered in region b", func() error {
		rep, err := member.Conn().Request(subjects.SvcReach("st-mary"), []byte("{}"), 5*time.Second)
		if err != nil {
			return err
		}
		if string(rep.Data) != "region b" {
			t.Fatalf("st-mary's reach request answered %q, want region b's", rep.Data)
		}
		return nil
	})

	sc.StopRegion("a")
	read("SECTORS-b", auth.SectorsConsumer("st-mary"), publish(jsB, "tocsin.r.b.sector.patient-care.flash", "after", 5))
}
