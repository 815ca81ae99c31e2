package auth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// testMembers is the registry the cluster tests run with: one member per
// role (from the demo cast) plus a member of another sector to attack.
func testMembers() []*tocsinv1.Member {
	m := func(id string, role tocsinv1.Role, sectors ...string) *tocsinv1.Member {
		return &tocsinv1.Member{Id: id, Name: id, Sectors: sectors, Roles: []tocsinv1.Role{role}, CreatedAt: timestamppb.Now()}
	}
	return []*tocsinv1.Member{
		m("st-mary", tocsinv1.Role_ROLE_MEMBER, "patient-care"),
		m("acme-pharma", tocsinv1.Role_ROLE_MEMBER, "pharma"),
		m("ir-firm", tocsinv1.Role_ROLE_RESPONDER, "patient-care"),
		m("hhs-liaison", tocsinv1.Role_ROLE_LIAISON, "federal"),
		m("admin", tocsinv1.Role_ROLE_ADMIN),
		vendorMember(),
	}
}

// vendorID is the test registry's vendor, a device maker in patient-care.
const vendorID = "zyx-devices"

func vendorMember() *tocsinv1.Member {
	return &tocsinv1.Member{Id: vendorID, Name: "ZYX Medical Devices", Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_VENDOR},
		PublisherNamespace: "https://zyx.example", CreatedAt: timestamppb.Now()}
}

// authCluster is a real 3-node cluster in operator mode, provisioned, with
// credentials for every test member.
type authCluster struct {
	t       *testing.T
	c       *broker.Cluster
	a       *auth.Authority
	dir     string // the authority's files
	members []*tocsinv1.Member
	creds   map[string][]byte // member id → .creds
	svc     *nats.Conn        // an unrestricted service connection
	svcJS   jetstream.JetStream
	sys     *nats.Conn // a system-account connection that may push account JWTs
}

func startAuthCluster(t *testing.T) *authCluster {
	t.Helper()
	ctx := testContext(t, 90*time.Second)
	dir := t.TempDir()
	a, err := auth.Init(dir)
	if err != nil {
		t.Fatalf("init authority: %v", err)
	}
	ac := &authCluster{t: t, a: a, dir: dir, members: testMembers(), creds: map[string][]byte{}}
	for _, m := range ac.members {
		creds, pub, err := a.IssueMember(m)
		if err != nil {
			t.Fatalf("issue %s: %v", m.Id, err)
		}
		m.Keys = append(m.Keys, &tocsinv1.SigningKey{PublicKey: pub, NotBefore: timestamppb.Now()})
		ac.creds[m.Id] = creds
	}
	accountJWTs, err := a.AccountJWTs(ac.members)
	if err != nil {
		t.Fatalf("account jwts: %v", err)
	}
	sa := a.ServerAuth(accountJWTs)
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{
		DataDir:   t.TempDir(),
		BasePort:  broker.RandomPort,
		Configure: func(_ int, o *broker.NodeOptions) { o.Auth = sa },
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	ac.c = c
	svcCreds, err := a.IssueService("test-service")
	if err != nil {
		t.Fatal(err)
	}
	ac.svc = ac.connect(c.ClientURL(), svcCreds, "", nil)
	if ac.svcJS, err = jetstream.New(ac.svc); err != nil {
		t.Fatal(err)
	}
	// Right after start a node may not have loaded the account yet ("JetStream
	// not enabled for account") or a peer may not be placeable: retry.
	testwait.Until(ctx, t, "provision as service", func() error { return broker.Provision(ctx, ac.svcJS, c.Replicas()) })
	if err := c.WaitStreams(ctx, a.Account(), broker.StreamNames()); err != nil {
		t.Fatalf("streams: %v", err)
	}
	for _, m := range ac.members {
		if err := auth.EnsureConsumers(ctx, ac.svcJS, m); err != nil {
			t.Fatal(err)
		}
	}
	sysCreds, err := a.IssueSystemUser("pusher")
	if err != nil {
		t.Fatal(err)
	}
	ac.sys = ac.connect(c.Node(0).ClientURL(), sysCreds, auth.InboxPrefix("pusher"), nil)
	return ac
}

// connect opens a connection with creds that reconnects quickly and is
// closed when the test ends; errs, when set, receives its async errors.
func (ac *authCluster) connect(url string, creds []byte, inboxPrefix string, errs chan<- error, extra ...nats.Option) *nats.Conn {
	ac.t.Helper()
	nc, err := ac.dial(url, creds, inboxPrefix, errs, extra...)
	if err != nil {
		ac.t.Fatalf("connect %s: %v", url, err)
	}
	return nc
}

func (ac *authCluster) dial(url string, creds []byte, inboxPrefix string, errs chan<- error, extra ...nats.Option) (*nats.Conn, error) {
	credsOpt, err := auth.CredsOption(creds)
	if err != nil {
		return nil, err
	}
	opts := []nats.Option{credsOpt, nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
	if inboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(inboxPrefix))
	}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	ac.t.Cleanup(nc.Close)
	return nc, nil
}

// member connects as member id through node i with its own inbox prefix.
func (ac *authCluster) member(id string, node int) *memberConn {
	ac.t.Helper()
	errs := make(chan error, 64)
	nc := ac.connect(ac.c.Node(node).ClientURL(), ac.creds[id], auth.InboxPrefix(id), errs)
	js, err := jetstream.New(nc)
	if err != nil {
		ac.t.Fatal(err)
	}
	return &memberConn{nc: nc, js: js, errs: errs}
}

func (ac *authCluster) memberRecord(id string) *tocsinv1.Member {
	for _, m := range ac.members {
		if m.Id == id {
			return m
		}
	}
	ac.t.Fatalf("no member %q", id)
	return nil
}

// push signs the account JWTs for the current registry and pushes them
// through node 0, waiting for all three nodes to store each.
func (ac *authCluster) push() {
	ac.t.Helper()
	jwts, err := ac.a.AccountJWTs(ac.members)
	if err != nil {
		ac.t.Fatalf("account jwts: %v", err)
	}
	ctx := testContext(ac.t, 10*time.Second)
	nodes, err := auth.PushAccounts(ctx, ac.sys, jwts, 3)
	if err != nil {
		ac.t.Fatalf("push: %v", err)
	}
	if len(nodes) != 3 {
		ac.t.Fatalf("pushed to %v, want 3 nodes", nodes)
	}
}

// memberConn is a member's connection and the async errors the server sent it.
type memberConn struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error

	mu   sync.Mutex
	seen []error
}

// violation waits until the server reported a permissions violation that
// names subject, and returns an error if none came in time.
func (mc *memberConn) violation(subject string, within time.Duration) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	quoted := `"` + subject + `"`
	match := func(err error) bool {
		return errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), quoted)
	}
	mc.mu.Lock()
	for _, err := range mc.seen {
		if match(err) {
			mc.mu.Unlock()
			return nil
		}
	}
	mc.mu.Unlock()
	for {
		select {
		case err := <-mc.errs:
			mc.mu.Lock()
			mc.seen = append(mc.seen, err)
			mc.mu.Unlock()
			if match(err) {
				return nil
			}
		case <-deadline.C:
			mc.mu.Lock()
			defer mc.mu.Unlock()
			return fmt.Errorf("no permissions violation for %q within %s (errors seen: %v)", subject, within, mc.seen)
		}
	}
}

// testContext is a context that ends after d or with the test.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// readSeedFile reads one seed of the authority in dir.
func readSeedFile(t *testing.T, dir, name string) nkeys.KeyPair {
	t.Helper()
	seed, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}
