package site_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// TestRevokingAMemberClosesItsSiteLink: the member's site is linked; its
// revocation pushed, the hub closes the leaf link within a second and
// refuses it from then on.
func TestRevokingAMemberClosesItsSiteLink(t *testing.T) {
	h := startHub(t)
	s := h.startSite("st-mary", "", t.TempDir())
	other := h.startSite("acme-pharma", "", t.TempDir())
	for _, x := range []interface{ Link() (bool, time.Time) }{s, other} {
		testwait.For(t, 20*time.Second, "the leaf links up", testwait.True(func() bool { up, _ := x.Link(); return up }))
	}
	h.member("st-mary").RevokedAt = timestamppb.Now()
	pushed := time.Now()
	h.push()
	testwait.For(t, time.Second, "st-mary's leaf link closed by the hub", func() error {
		lz, err := h.c.Node(0).Server().Leafz(nil)
		if err != nil {
			return err
		}
		for _, l := range lz.Leafs {
			if strings.HasPrefix(l.Name, "site-st-mary-") {
				return fmt.Errorf("still linked: %s", l.Name)
			}
		}
		return nil
	})
	t.Logf("revoked site link closed within %s of the push's start", time.Since(pushed).Round(time.Millisecond))
	testwait.For(t, 5*time.Second, "the site sees its link down", testwait.True(func() bool { up, _ := s.Link(); return !up }))
	if up, _ := other.Link(); !up {
		t.Fatal("another member's site lost its link")
	}
}

// TestSiteCredentialsAreForLeafLinksOnly: a site credential cannot open a
// client connection, and a member's own credentials cannot open a leaf
// link (the hub refuses both).
func TestSiteCredentialsAreForLeafLinksOnly(t *testing.T) {
	h := startHub(t)
	data, err := os.ReadFile(h.creds["st-mary"])
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := auth.CredsOption(data)
	if _, err := nats.Connect(h.c.ClientURL(), opt, nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("a site credential as a client: %v, want an authorization error", err)
	}
	memberCreds, err := h.a.IssueMemberWithKey(h.member("st-mary"), mustUser(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "member.creds")
	if err := os.WriteFile(path, memberCreds, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := &watchLog{want: "Authorization Violation"}
	leaf := rawLeaf(t, h, path, refused)
	testwait.For(t, 20*time.Second, "the hub refusing a member credential as a leaf", testwait.True(func() bool { return refused.seen.Load() }))
	if leaf.NumLeafNodes() != 0 {
		t.Fatal("a member credential opened a leaf link")
	}
}

// TestSiteSeesOnlyItsOwnMember: st-mary's site credential cannot source
// acme-pharma's site consumer nor receive its deliveries, while
// acme-pharma's own site does.
func TestSiteSeesOnlyItsOwnMember(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 90*time.Second)
	mary := h.startSite("st-mary", "", t.TempDir())
	acme := h.startSite("acme-pharma", "", t.TempDir())
	maryJS, acmeJS := localJS(t, mary), localJS(t, acme)
	// Rogue: st-mary's site sources acme-pharma's inbox consumer and
	// listens on its deliveries.
	rogue, err := maryJS.CreateStream(ctx, jetstream.StreamConfig{Name: "ROGUE", Sources: []*jetstream.StreamSource{{
		Name: "INBOX", External: &jetstream.ExternalStream{APIPrefix: "$JS.tocsin.API"},
		Consumer: &jetstream.StreamConsumerSource{Name: "acme-pharma-site-inbox", DeliverSubject: "tocsin.site.acme-pharma.inbox"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(mary.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var leaked atomic.Int32
	if _, err := nc.Subscribe("tocsin.site.acme-pharma.>", func(*nats.Msg) { leaked.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("tocsin.inbox.acme-pharma", func(*nats.Msg) { leaked.Add(1) }); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	h.route(ctx, "tocsin.inbox.acme-pharma", "x1:inbox.acme-pharma")
	testwait.For(t, 30*time.Second, "acme-pharma's own site sourcing its inbox", func() error {
		st, err := acmeJS.Stream(ctx, "INBOX")
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 1 {
			return fmt.Errorf("%d messages", info.State.Msgs)
		}
		return nil
	})
	// The hub answered st-mary's reset of acme-pharma's consumer with
	// nothing (its permissions refuse it), and st-mary's own inbox has no
	// message of acme-pharma's.
	info, err := rogue.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 || leaked.Load() != 0 {
		t.Fatalf("st-mary's site got %d messages of acme-pharma's inbox in ROGUE and %d on its subjects", info.State.Msgs, leaked.Load())
	}
	st, _ := maryJS.Stream(ctx, "INBOX")
	if mi, _ := st.Info(ctx); mi.State.Msgs != 0 {
		t.Fatalf("st-mary's inbox at its site has %d messages", mi.State.Msgs)
	}
}

// watchLog is a nats-server logger that notes a line containing want.
type watchLog struct {
	want string
	seen atomic.Bool
}

func (l *watchLog) note(format string, v ...any) {
	if strings.Contains(fmt.Sprintf(format, v...), l.want) {
		l.seen.Store(true)
	}
}
func (l *watchLog) Noticef(f string, v ...any) { l.note(f, v...) }
func (l *watchLog) Warnf(f string, v ...any)   { l.note(f, v...) }
func (l *watchLog) Errorf(f string, v ...any)  { l.note(f, v...) }
func (l *watchLog) Fatalf(f string, v ...any)  { l.note(f, v...) }
func (l *watchLog) Debugf(f string, v ...any)  { l.note(f, v...) }
func (l *watchLog) Tracef(f string, v ...any)  { l.note(f, v...) }

// rawLeaf starts a bare nats-server dialling the hub as a leaf node with
// creds, its log going to log.
func rawLeaf(t *testing.T, h *hub, creds string, log server.Logger) *server.Server {
	t.Helper()
	u, err := h.leafURL()
	if err != nil {
		t.Fatal(err)
	}
	so := &server.Options{ServerName: "raw-leaf", Host: "127.0.0.1", Port: -1, NoSigs: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: u, Credentials: creds, TLS: true, TLSConfig: h.tlsClient(t)}}}}
	s, err := server.NewServer(so)
	if err != nil {
		t.Fatal(err)
	}
	s.SetLoggerV2(log, false, false, false)
	s.Start()
	t.Cleanup(s.Shutdown)
	return s
}
