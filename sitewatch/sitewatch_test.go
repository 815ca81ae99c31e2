package sitewatch_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/sitewatch"
)

// TestALinkIsOnRecordAndItsCutStopsItsLastContact: st-mary's site links
// (with a server name claiming acme-pharma's: the record follows the
// account, not the name); its last contact moves while linked; cut, the
// record says down since the cut and the last contact stops moving; the
// node restarted with the site still cut, the record is there, as it was.
func TestALinkIsOnRecordAndItsCutStopsItsLastContact(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 120*time.Second)
	stopWatch := h.watch()
	leaf(t, h, "st-mary", "site-acme-pharma-spoofed")
	up := h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return c.Up })
	if up.Site != "site-acme-pharma-spoofed" || up.Node != h.c.Node(0).Name() || up.Transport != "tcp" || up.UpSince.IsZero() {
		t.Fatalf("record %+v", up)
	}
	h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return c.Up && c.LastContact.After(up.LastContact) })
	if _, ok, err := records.ReadSite(ctx, h.kv, "acme-pharma", time.Now()); err != nil || ok {
		t.Fatalf("acme-pharma has a record (%v): its name was claimed by st-mary's site", err)
	}

	cut := time.Now()
	h.proxy.Cut()
	down := h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return !c.Up })
	if down.DownSince.Before(cut) || down.LastContact.After(down.DownSince) || down.UpSince != up.UpSince {
		t.Fatalf("after the cut at %s: %+v", cut, down)
	}
	testwait.For(t, 10*time.Second, "three heartbeats after the cut", testwait.True(func() bool { return time.Since(down.DownSince) > 3*heartbeat }))
	later, _, err := records.ReadSite(ctx, h.kv, "st-mary", time.Now())
	if err != nil || later.Up || !later.LastContact.Equal(down.LastContact) || !later.DownSince.Equal(down.DownSince) {
		t.Fatalf("the cut site's record moved: %+v (%v), was %+v", later, err, down)
	}
	stopWatch()

	// The node restarts while the site is cut: the record is the
	// cluster's, not the watcher's.
	h.c.StopNode(0)
	if err := h.c.RestartNode(0); err != nil {
		t.Fatal(err)
	}
	h.proxy.Retarget(h.c.Node(0).LeafURL()[len("nats-leaf://"):])
	h.watch()
	again := h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return true })
	if again.Up || !again.LastContact.Equal(down.LastContact) {
		t.Fatalf("after the node's restart: %+v, want %+v", again, down)
	}
	h.proxy.Heal()
	h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return c.Up && c.UpSince.After(cut) })
}

// TestARecordWhoseNodeStoppedIsTakenAsDown: the node the link is on
// stops without marking it down (its watcher gone with it); a reader
// takes the record as down since its last contact once it is stale.
func TestARecordWhoseNodeStoppedIsTakenAsDown(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 60*time.Second)
	stopWatch := h.watch()
	leaf(t, h, "st-mary", "site-st-mary-0001")
	up := h.waitRecord(ctx, "st-mary", func(c records.SiteContact) bool { return c.Up })
	stopWatch()
	h.proxy.Cut()
	testwait.For(t, 10*time.Second, "the record stale", testwait.True(func() bool { return time.Now().After(up.FreshUntil) }))
	seen, _, err := records.ReadSite(ctx, h.kv, "st-mary", time.Now())
	if err != nil || seen.Up || seen.DownSince.IsZero() || !seen.DownSince.Equal(seen.LastContact) {
		t.Fatalf("a stale record read as %+v (%v), want down since its last contact", seen, err)
	}
}

const (
	interval  = 100 * time.Millisecond
	heartbeat = 300 * time.Millisecond
)

// hub is a one-node operator-mode cluster with a plain-text leaf
// listener behind a cuttable proxy, the streams and buckets provisioned,
// two members with site credentials.
type hub struct {
	t     *testing.T
	c     *broker.Cluster
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	creds map[string]string
	proxy *cutproxy.Proxy
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func startHub(t *testing.T) *hub {
	ctx := testContext(t, 60*time.Second)
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var ms []*tocsinv1.Member
	h := &hub{t: t, creds: map[string]string{}, proxy: cutproxy.New(t)}
	for _, id := range []string{"st-mary", "acme-pharma"} {
		m := &tocsinv1.Member{Id: id, Name: id, Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}, CreatedAt: timestamppb.Now()}
		creds, err := a.IssueSite(m)
		if err != nil {
			t.Fatal(err)
		}
		h.creds[id] = filepath.Join(t.TempDir(), id+"-site.creds")
		if err := os.WriteFile(h.creds[id], creds, 0o600); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	jwts, err := a.AccountJWTs(ms)
	if err != nil {
		t.Fatal(err)
	}
	sa := a.ServerAuth(jwts)
	h.c, err = broker.StartCluster(ctx, broker.ClusterOptions{Nodes: 1, DataDir: t.TempDir(), BasePort: broker.RandomPort,
		Configure: func(_ int, o *broker.NodeOptions) {
			o.Auth = sa
			o.Leaf = &broker.LeafOptions{Port: broker.RandomPort, InsecureNoTLS: true, Advertise: h.proxy.Addr()}
		}}, zaptest.NewLogger(t).Named("hub"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.c.Shutdown)
	h.proxy.Start(h.c.Node(0).LeafURL()[len("nats-leaf://"):])
	svc, err := a.IssueService("test-service")
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := auth.CredsOption(svc)
	nc, err := nats.Connect(h.c.ClientURL(), opt, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h.js, _ = jetstream.New(nc)
	testwait.Until(ctx, t, "provision", func() error { return broker.Provision(ctx, h.js, 1) })
	if h.kv, err = h.js.KeyValue(ctx, records.BucketSites); err != nil {
		t.Fatal(err)
	}
	return h
}

// watch runs a watcher on the hub's node until the test ends or the
// returned func is called.
func (h *hub) watch() func() {
	w, err := sitewatch.New(sitewatch.Deps{Server: h.c.Node(0).Server(), JS: h.js, Node: h.c.Node(0).Name()},
		sitewatch.Options{Interval: interval, Heartbeat: heartbeat}, zaptest.NewLogger(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	stop := func() { cancel(); <-done }
	h.t.Cleanup(stop)
	return stop
}

// waitRecord waits for member's record to satisfy cond and returns it.
func (h *hub) waitRecord(ctx context.Context, member string, cond func(records.SiteContact) bool) records.SiteContact {
	h.t.Helper()
	return waitRecordIn(ctx, h.t, h.kv, member, cond)
}

// waitRecordIn waits for member's record in the bucket kv to satisfy
// cond and returns it.
func waitRecordIn(ctx context.Context, t *testing.T, kv jetstream.KeyValue, member string, cond func(records.SiteContact) bool) records.SiteContact {
	t.Helper()
	var got records.SiteContact
	testwait.Until(ctx, t, member+"'s site record in "+kv.Bucket(), func() error {
		call, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, ok, err := records.ReadSite(call, kv, member, time.Now())
		if err != nil || !ok {
			return fmt.Errorf("no record (%v)", err)
		}
		if !cond(c) {
			return fmt.Errorf("record %+v", c)
		}
		got = c
		return nil
	})
	return got
}

// leaf starts a bare nats-server named name dialling the hub's proxy as
// a leaf node with member's site credentials.
func leaf(t *testing.T, h *hub, member, name string) {
	t.Helper()
	leafTo(t, "nats-leaf://"+h.proxy.Addr(), h.creds[member], name)
}

// leafTo starts a bare nats-server named name dialling hubURL as a leaf
// node with the site credentials in the file creds.
func leafTo(t *testing.T, hubURL, creds, name string) {
	t.Helper()
	u, err := url.Parse(hubURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{ServerName: name, Host: "127.0.0.1", Port: -1, NoSigs: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}, Credentials: creds}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
}
