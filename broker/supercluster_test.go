package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// startRegions starts an operator-mode supercluster of regions on
// loopback, gateways and routes in mutual TLS, and stops it at the end.
func startRegions(t *testing.T, a *auth.Authority, regions ...RegionSpec) *Supercluster {
	t.Helper()
	files := testTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	sc, err := StartSupercluster(ctx, SuperclusterOptions{Regions: regions, DataDir: t.TempDir(),
		Configure: func(_ string, _ int, o *NodeOptions) {
			o.Auth = a.ServerAuth(nil)
			o.ClusterTLS, o.Gateway.TLS = files, files
		}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start supercluster: %v", err)
	}
	t.Cleanup(sc.Shutdown)
	return sc
}

// regionJS connects to a region as a Tocsin service (the TOCSIN account).
func regionJS(t *testing.T, a *auth.Authority, sc *Supercluster, region string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	creds, err := a.IssueService("svc-" + region)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := auth.CredsOption(creds)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(sc.ClientURL(region), opt, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to region %s: %v", region, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// regionStreams creates each region's streams as docs/REGIONS.md places
// them: its own ingest, and its copies stream holding its router's copies
// (captured) and every other region's (sourced, filtered to that region's
// own subjects so nothing comes back where it came from).
func regionStreams(ctx context.Context, t *testing.T, js jetstream.JetStream, regions ...string) {
	t.Helper()
	for _, r := range regions {
		ingest := jetstream.StreamConfig{Name: "INGEST-" + r, Subjects: []string{"tocsin.r." + r + ".ingest.>"},
			Replicas: 3, Storage: jetstream.FileStorage, Placement: &jetstream.Placement{Cluster: r}}
		copies := jetstream.StreamConfig{Name: "SECTORS-" + r, Subjects: []string{"tocsin.r." + r + ".sector.>"},
			Replicas: 3, Storage: jetstream.FileStorage, Placement: &jetstream.Placement{Cluster: r}}
		for _, o := range regions {
			if o != r {
				copies.Sources = append(copies.Sources, &jetstream.StreamSource{Name: "SECTORS-" + o, FilterSubject: "tocsin.r." + o + ".sector.>"})
			}
		}
		for _, cfg := range []jetstream.StreamConfig{ingest, copies} {
			// The meta leader learns the other regions' peers a moment
			// after the gateways connect ("no suitable peers" until then).
			testwait.For(t, 30*time.Second, "stream "+cfg.Name+" placed in region "+r, func() error {
				_, err := js.CreateOrUpdateStream(ctx, cfg)
				return err
			})
		}
	}
}

// publishAcked publishes n messages and returns the ids the stream acknowledged.
func publishAcked(ctx context.Context, t *testing.T, js jetstream.JetStream, subject, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		// A stream whose region just came back may have no leader yet: ask
		// again (the message id makes a second ask a duplicate, not a copy).
		testwait.For(t, 60*time.Second, "publish "+id+" on "+subject, func() error {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := js.Publish(pctx, subject, []byte(id), jetstream.WithMsgID(id))
			return err
		})
		ids = append(ids, id)
	}
	return ids
}

// readAll reads every message of a stream's subject through a new consumer.
func readAll(ctx context.Context, t *testing.T, js jetstream.JetStream, stream, filter string, want int) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	testwait.For(t, 60*time.Second, fmt.Sprintf("%d messages of %s on %s", want, filter, stream), func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := js.OrderedConsumer(cctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
		if err != nil {
			return err
		}
		clear(got)
		for len(got) < want {
			b, err := c.Fetch(want-len(got), jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				return err
			}
			n := 0
			for m := range b.Messages() {
				got[string(m.Data())] = true
				n++
			}
			if n == 0 {
				return fmt.Errorf("read %d of %d", len(got), want)
			}
		}
		return nil
	})
	return got
}

// startWitnessed starts regions a and b of three nodes and the witness w:
// 7 meta peers, 4 after a region's loss.
func startWitnessed(t *testing.T) (*auth.Authority, *Supercluster) {
	t.Helper()
	a := testAuthority(t)
	return a, startRegions(t, a, RegionSpec{Name: "a"}, RegionSpec{Name: "b"}, RegionSpec{Name: "w", Nodes: 1})
}

func TestSuperclusterRegionLossKeepsTheOtherRegionWhole(t *testing.T) {
	a, sc := startWitnessed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, jsA := regionJS(t, a, sc, "a")
	_, jsB := regionJS(t, a, sc, "b")
	regionStreams(ctx, t, jsB, "a", "b")
	for _, r := range []string{"a", "b"} {
		for _, st := range []string{"INGEST-", "SECTORS-"} {
			s, err := jsB.Stream(ctx, st+r)
			if err != nil {
				t.Fatal(err)
			}
			if cl := s.CachedInfo().Cluster; cl == nil || cl.Name != r {
				t.Fatalf("stream %s%s is in cluster %+v, want region %s", st, r, cl, r)
			}
		}
	}

	// The channel's streams and buckets, provisioned from region a, are
	// placed in the streams region, b.
	testwait.For(t, 60*time.Second, "the channel's streams provisioned in region b", func() error {
		return ProvisionIn(ctx, jsA, 3, "b")
	})
	if err := CheckProvisionedIn(ctx, jsA, 3, "b"); err != nil {
		t.Fatalf("after ProvisionIn b: %v", err)
	}
	if err := CheckProvisionedIn(ctx, jsA, 3, "a"); err == nil {
		t.Fatal("CheckProvisionedIn a: nil, want the streams named as placed in b")
	}

	// An account pushed to region a's resolver is known in region b: a
	// member admitted in one region connects in any.
	m := &tocsinv1.Member{Id: "st-marys", Name: "St. Mary's", Sectors: []string{"patient-care"}, Region: "northeast",
		Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	creds, pub, err := a.IssueMember(m)
	if err != nil {
		t.Fatal(err)
	}
	m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	jwts, err := a.AccountJWTsOf([]*tocsinv1.Member{m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sysCreds, err := a.IssueSystemUser("push")
	if err != nil {
		t.Fatal(err)
	}
	sysOpt, _ := auth.CredsOption(sysCreds)
	sys, err := nats.Connect(sc.Region("a")[0].ClientURL(), sysOpt, nats.CustomInboxPrefix(auth.InboxPrefix("push")))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	if _, err := auth.PushAccounts(pctx, sys, jwts, 7); err != nil {
		t.Fatalf("push the member's account in region a to all 7 nodes: %v", err)
	}
	memberOpt, _ := auth.CredsOption(creds)
	mc, err := nats.Connect(sc.Region("b")[1].ClientURL(), memberOpt)
	if err != nil {
		t.Fatalf("member admitted in region a connecting in region b: %v", err)
	}
	mc.Close()

	// A flash copy routed in region a reaches a reader in region b.
	flash := publishAcked(ctx, t, jsA, "tocsin.r.a.sector.patient-care.flash", "flash-a", 1)
	got := readAll(ctx, t, jsB, "SECTORS-b", "tocsin.r.a.sector.patient-care.>", 1)
	if !got[flash[0]] {
		t.Fatalf("region b's copies hold %v, want region a's flash %s", got, flash[0])
	}
	// Region b's own traffic, acknowledged by its own streams.
	ingestB := publishAcked(ctx, t, jsB, "tocsin.r.b.ingest.alert.st-marys", "ingest-b", 50)
	copiesB := publishAcked(ctx, t, jsB, "tocsin.r.b.sector.patient-care.flash", "copy-b", 50)

	sc.StopRegion("a")

	// Nothing acknowledged in region b is lost; b's streams keep taking
	// writes and b's readers keep receiving b's alerts.
	after := publishAcked(ctx, t, jsB, "tocsin.r.b.sector.patient-care.flash", "after-b", 10)
	gotIngest := readAll(ctx, t, jsB, "INGEST-b", "tocsin.r.b.ingest.>", len(ingestB))
	gotCopies := readAll(ctx, t, jsB, "SECTORS-b", "tocsin.r.b.sector.>", len(copiesB)+len(after))
	for _, id := range ingestB {
		if !gotIngest[id] {
			t.Fatalf("acknowledged %s lost from INGEST-b with region a", id)
		}
	}
	for _, id := range append(copiesB, after...) {
		if !gotCopies[id] {
			t.Fatalf("acknowledged %s lost from SECTORS-b with region a", id)
		}
	}
	if err := CheckProvisionedIn(ctx, jsB, 3, "b"); err != nil {
		t.Fatalf("the channel's streams in region b after region a's loss: %v", err)
	}
	// The meta group keeps its quorum (4 of 7): consumers and streams can
	// still be created in region b, as a member's re-created consumer is.
	if err := sc.WaitMeta(ctx); err != nil {
		t.Fatalf("meta group after region a's loss: %v", err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if _, err := jsB.CreateOrUpdateConsumer(cctx, "SECTORS-b", jetstream.ConsumerConfig{Durable: "st-marys-patient-care",
		FilterSubject: "tocsin.r.*.sector.patient-care.>", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("create a consumer in region b after region a's loss: %v", err)
	}
}

func TestTwoRegionsWithoutAWitnessCannotCreateAfterARegionsLoss(t *testing.T) {
	a := testAuthority(t)
	sc := startRegions(t, a, RegionSpec{Name: "a"}, RegionSpec{Name: "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, jsB := regionJS(t, a, sc, "b")
	regionStreams(ctx, t, jsB, "a", "b")
	acked := publishAcked(ctx, t, jsB, "tocsin.r.b.ingest.alert.st-marys", "ingest-b", 5)
	sc.StopRegion("a")
	// Region b's stream keeps its own quorum and what it acknowledged...
	got := readAllExisting(ctx, t, jsB, "INGEST-b", len(acked))
	for _, id := range acked {
		if !got[id] {
			t.Fatalf("acknowledged %s lost", id)
		}
	}
	// ...but 3 meta peers of 6 elect no leader: nothing can be created.
	testwait.For(t, 60*time.Second, "the meta leader gone with region a", func() error {
		for _, n := range sc.Region("b") {
			jsz, err := n.Server().Jsz(nil)
			if err != nil {
				return err
			}
			if m := jsz.Meta; m == nil || m.Leader != "" || m.Size != 6 || m.QuorumNeeded != 4 {
				return fmt.Errorf("node %s sees meta group %+v, want 6 peers needing 4 and no leader", n.Name(), m)
			}
		}
		return nil
	})
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	if _, err := jsB.CreateOrUpdateConsumer(cctx, "INGEST-b", jetstream.ConsumerConfig{Durable: "router", AckPolicy: jetstream.AckExplicitPolicy}); err == nil {
		t.Fatal("a consumer was created with 3 meta peers of 6; the witness would not be needed")
	}
}

// readAllExisting reads a stream through a consumer that already exists
// (none can be created without a meta leader): a direct get per sequence.
func readAllExisting(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string, want int) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	testwait.For(t, 30*time.Second, fmt.Sprintf("%d messages of %s", want, stream), func() error {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		for seq := uint64(1); seq <= uint64(want); seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				return fmt.Errorf("get %d: %w", seq, err)
			}
			got[string(m.Data)] = true
		}
		return nil
	})
	return got
}

// A supercluster's nodes, started one after the other, dial regions that
// do not listen yet, and the witness waits for the meta leader alone: a
// normal start logs none of it at warn level or above.
func TestSuperclusterStartsWithoutErrorsOrWarnings(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := StartSupercluster(ctx, SuperclusterOptions{DataDir: t.TempDir(),
		Regions: []RegionSpec{{Name: "a"}, {Name: "b"}, {Name: "w", Nodes: 1}}}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Shutdown)
	testwait.For(t, 60*time.Second, "every node to form", testwait.True(func() bool {
		for _, n := range sc.all() {
			if !n.formed.Load() {
				return false
			}
		}
		return true
	}))
	for _, e := range logs.All() {
		if e.Level >= zapcore.WarnLevel && (strings.Contains(e.Message, "gateway") || strings.Contains(e.Message, "rout") || strings.Contains(e.Message, "meta leader")) {
			t.Errorf("a normal start logged at %s: %s", e.Level, e.Message)
		}
	}
}

// The streams region lost whole: the other region and the witness keep the
// meta leader, the streams take nothing until the region is back, and when
// its nodes restart on their data every acknowledged message is there and
// writes are taken again, without an operator.
func TestStreamsRegionLostAndBackKeepsEveryAcknowledgedMessage(t *testing.T) {
	a, sc := startWitnessed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, jsA := regionJS(t, a, sc, "a")
	testwait.For(t, 60*time.Second, "the channel's streams provisioned in region b", func() error {
		return ProvisionIn(ctx, jsA, 3, "b")
	})
	acked := publishAcked(ctx, t, jsA, "tocsin.ingest.alert.st-marys", "before", 20)
	sc.StopRegion("b")
	if err := sc.WaitMeta(ctx); err != nil {
		t.Fatalf("meta group without region b: %v", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	if _, err := jsA.Publish(pctx, "tocsin.ingest.alert.st-marys", []byte("lost"), jetstream.WithMsgID("lost")); err == nil {
		t.Fatal("INGEST acknowledged a message with every replica's region down")
	}
	pcancel()
	if err := sc.RestartRegion("b"); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 90*time.Second, "INGEST taking writes again", func() error {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		defer pcancel()
		_, err := jsA.Publish(pctx, "tocsin.ingest.alert.st-marys", []byte("after-0"), jetstream.WithMsgID("after-0"))
		return err
	})
	got := readAll(ctx, t, jsA, "INGEST", "tocsin.ingest.>", len(acked)+1)
	for _, id := range append(acked, "after-0") {
		if !got[id] {
			t.Fatalf("acknowledged %s missing after region b came back", id)
		}
	}
	testwait.For(t, 90*time.Second, "every stream back in region b", func() error {
		return CheckProvisionedIn(ctx, jsA, 3, "b")
	})
}
