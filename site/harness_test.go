package site_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/site"
)

// hub is a one-node operator-mode cluster with a TLS leaf listener, the
// streams provisioned, and two members with site credentials.
type hub struct {
	t           testing.TB
	c           *broker.Cluster
	a           *auth.Authority
	members     []*tocsinv1.Member
	creds       map[string]string // member id → its site .creds file
	signers     map[string]*envelope.Signer
	memberCreds map[string]string // member id → its own (client) .creds file
	ca          string            // the hub certificate's CA file
	svc         *nats.Conn
	svcJS       jetstream.JetStream
	sys         *nats.Conn
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func startHub(t testing.TB) *hub { return startHubWith(t, nil) }

// startHubWith is startHub with the leaf listener adjusted by leaf.
func startHubWith(t testing.TB, leaf func(*broker.LeafOptions)) *hub {
	t.Helper()
	ctx := testContext(t, 60*time.Second)
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := func(id string, sectors ...string) *tocsinv1.Member {
		return &tocsinv1.Member{Id: id, Name: id, Sectors: sectors, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}, CreatedAt: timestamppb.Now()}
	}
	h := &hub{t: t, a: a, members: []*tocsinv1.Member{m("st-mary", "patient-care"), m("acme-pharma", "pharma")}, creds: map[string]string{}, signers: map[string]*envelope.Signer{}, memberCreds: map[string]string{}}
	dir := t.TempDir()
	for _, mem := range h.members {
		kp := mustUser(t)
		own, err := a.IssueMemberWithKey(mem, kp)
		if err != nil {
			t.Fatal(err)
		}
		h.memberCreds[mem.Id] = filepath.Join(dir, mem.Id+".creds")
		if err := os.WriteFile(h.memberCreds[mem.Id], own, 0o600); err != nil {
			t.Fatal(err)
		}
		if h.signers[mem.Id], err = envelope.NewSigner(mem.Id, kp); err != nil {
			t.Fatal(err)
		}
		mem.Keys = append(mem.Keys, &tocsinv1.SigningKey{PublicKey: h.signers[mem.Id].KeyID(), NotBefore: timestamppb.Now()})
		creds, err := a.IssueSite(mem)
		if err != nil {
			t.Fatal(err)
		}
		h.creds[mem.Id] = filepath.Join(dir, mem.Id+"-site.creds")
		if err := os.WriteFile(h.creds[mem.Id], creds, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := broker.NewCA("test hub", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsOpts, err := ca.WriteCertFiles(t.TempDir(), "hub", []string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h.ca = tlsOpts.CA
	jwts, err := a.AccountJWTs(h.members)
	if err != nil {
		t.Fatal(err)
	}
	sa := a.ServerAuth(jwts)
	h.c, err = broker.StartCluster(ctx, broker.ClusterOptions{
		Nodes: 1, DataDir: t.TempDir(), BasePort: broker.RandomPort,
		Configure: func(_ int, o *broker.NodeOptions) {
			o.Auth = sa
			o.Leaf = &broker.LeafOptions{Port: broker.RandomPort, TLS: tlsOpts}
			if leaf != nil {
				leaf(o.Leaf)
			}
		},
	}, zaptest.NewLogger(t).Named("hub"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.c.Shutdown)
	svcCreds, err := a.IssueService("test-service")
	if err != nil {
		t.Fatal(err)
	}
	h.svc = h.connect(svcCreds, "")
	h.svcJS, _ = jetstream.New(h.svc)
	testwait.Until(ctx, t, "provision", func() error { return broker.Provision(ctx, h.svcJS, h.c.Replicas()) })
	for _, mem := range h.members {
		if err := auth.EnsureConsumers(ctx, h.svcJS, mem); err != nil {
			t.Fatal(err)
		}
		if err := auth.EnsureSiteConsumers(ctx, h.svcJS, mem); err != nil {
			t.Fatal(err)
		}
	}
	sysCreds, err := a.IssueSystemUser("pusher")
	if err != nil {
		t.Fatal(err)
	}
	h.sys = h.connect(sysCreds, auth.InboxPrefix("pusher"))
	return h
}

func (h *hub) connect(creds []byte, inbox string) *nats.Conn {
	h.t.Helper()
	opt, err := auth.CredsOption(creds)
	if err != nil {
		h.t.Fatal(err)
	}
	opts := []nats.Option{opt, nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
	if inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(inbox))
	}
	nc, err := nats.Connect(h.c.ClientURL(), opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(nc.Close)
	return nc
}

func (h *hub) member(id string) *tocsinv1.Member {
	for _, m := range h.members {
		if m.Id == id {
			return m
		}
	}
	h.t.Fatalf("no member %s", id)
	return nil
}

// push signs and pushes the account JWTs of the current members.
func (h *hub) push() {
	h.t.Helper()
	jwts, err := h.a.AccountJWTs(h.members)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := auth.PushAccounts(testContext(h.t, 10*time.Second), h.sys, jwts, 1); err != nil {
		h.t.Fatal(err)
	}
}

// startSite starts member's site with creds (its own by default).
func (h *hub) startSite(member, creds, dir string) *site.Site {
	h.t.Helper()
	return h.startSiteVia(member, creds, dir, h.c.Node(0).LeafURL())
}

// startSiteVia starts member's site dialling hubURL.
func (h *hub) startSiteVia(member, creds, dir, hubURL string) *site.Site {
	h.t.Helper()
	if creds == "" {
		creds = h.creds[member]
	}
	s, err := site.New(testContext(h.t, 20*time.Second), site.Options{
		Hub: []string{hubURL}, Creds: creds, CA: h.ca, DataDir: dir,
		Listen: "127.0.0.1:-1", Log: zaptest.NewLogger(h.t).Named("site-" + member),
	})
	if err != nil {
		h.t.Fatalf("site %s: %v", member, err)
	}
	h.t.Cleanup(s.Exit)
	return s
}

// route publishes body on a routed subject at the hub, as the router does.
func (h *hub) route(ctx context.Context, subject, id string) {
	h.t.Helper()
	if _, err := h.svcJS.Publish(ctx, subject, []byte(id), jetstream.WithMsgID(id)); err != nil {
		h.t.Fatalf("route %s: %v", subject, err)
	}
}

// localJS connects to a site as its member's agent would.
func localJS(t testing.TB, s *site.Site) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.CustomInboxPrefix(auth.InboxPrefix(s.Member())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return js
}

func mustUser(t testing.TB) nkeys.KeyPair {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func (h *hub) leafURL() ([]*url.URL, error) {
	u, err := url.Parse(h.c.Node(0).LeafURL())
	return []*url.URL{u}, err
}

// tlsClient trusts the hub's CA.
func (h *hub) tlsClient(t testing.TB) *tls.Config {
	pem, err := os.ReadFile(h.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
