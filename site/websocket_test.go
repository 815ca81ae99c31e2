package site_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/site"
)

// startWebsocketHub is startHub with a TLS websocket listener beside the
// leaf listener (its certificate the leaf listener's).
func startWebsocketHub(t *testing.T) *hub {
	return startHubWith(t, func(l *broker.LeafOptions) {
		l.Websocket = &broker.LeafWebsocketOptions{Port: broker.RandomPort}
	})
}

// wsLinked waits for s's leaf link and checks, at the hub, that it runs
// over WebSocket.
func wsLinked(t *testing.T, h *hub, s *site.Site) {
	t.Helper()
	testwait.For(t, 20*time.Second, "the leaf link up over websocket", func() error {
		lz, err := h.c.Node(0).Server().Leafz(nil)
		if err != nil {
			return err
		}
		for _, l := range lz.Leafs {
			if l.Name == s.Name() {
				if !l.Websocket {
					return fmt.Errorf("%s linked, not over websocket", l.Name)
				}
				return nil
			}
		}
		return fmt.Errorf("%s not linked", s.Name())
	})
}

// TestSiteOverWebsocketSourcesAndForwards: a site dials the hub's
// websocket listener (wss://, TLS with the hub's CA); what the hub routes
// to its member reaches the site, and what the member sends at the site
// reaches the hub's INGEST, each once.
func TestSiteOverWebsocketSourcesAndForwards(t *testing.T) {
	h := startWebsocketHub(t)
	ctx := testContext(t, 90*time.Second)
	u := h.c.Node(0).LeafWebsocketURL()
	if !strings.HasPrefix(u, "wss://127.0.0.1:") {
		t.Fatalf("websocket leaf url %q, want wss://", u)
	}
	s := h.startSiteVia("st-mary", "", t.TempDir(), u)
	wsLinked(t, h, s)
	h.route(ctx, "tocsin.sector.patient-care.flash", "w1:patient-care")
	h.route(ctx, "tocsin.inbox.st-mary", "w2:inbox.st-mary")
	js := localJS(t, s)
	waitMsgs(ctx, t, js, "SECTORS", 1)
	waitMsgs(ctx, t, js, "INBOX", 1)
	_, msg := h.seal("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DEGRADED, Note: "over websocket"})
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil || ack.Stream != site.StreamOutbox {
		t.Fatalf("report at the site: %v (%+v), want it in the outbox", err, ack)
	}
	testwait.Until(ctx, t, "the report forwarded to the hub's INGEST", func() error { return wantSubject(ctx, h, msg.Subject, 1) })
	testwait.For(t, 10*time.Second, "the outbox empty", func() error { return wantMsgs(ctx, js, site.StreamOutbox, 0) })
}

// TestSiteOverWebsocketThroughAnHTTPConnectProxy: nats-server's remote
// proxy opens the CONNECT tunnel first and runs the WebSocket (and its
// TLS) inside it, so a site behind a hospital's proxy reaches the hub's
// port 443 listener the same way.
func TestSiteOverWebsocketThroughAnHTTPConnectProxy(t *testing.T) {
	h := startWebsocketHub(t)
	ctx := testContext(t, 60*time.Second)
	proxy, tunnels := connectProxy(t)
	s, err := site.New(ctx, site.Options{Hub: []string{h.c.Node(0).LeafWebsocketURL()}, Creds: h.creds["st-mary"], CA: h.ca, DataDir: t.TempDir(),
		Listen: "127.0.0.1:-1", Proxy: "http://soc:secret@" + proxy, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Exit)
	wsLinked(t, h, s)
	if tunnels.Load() == 0 {
		t.Fatal("the link is up but did not go through the proxy")
	}
	h.route(ctx, "tocsin.inbox.st-mary", "wp1:inbox.st-mary")
	waitMsgs(ctx, t, localJS(t, s), "INBOX", 1)
}

// TestSiteOverWebsocketRefusesAMemberCredential: the websocket listener
// takes a site credential only: a member's own credentials open neither
// a leaf link nor a websocket client connection on it.
func TestSiteOverWebsocketRefusesAMemberCredential(t *testing.T) {
	h := startWebsocketHub(t)
	u := h.c.Node(0).LeafWebsocketURL()
	refused := &watchLog{want: "Authorization Violation"}
	leaf := wsLeaf(t, h, u, h.memberCreds["st-mary"], refused)
	testwait.For(t, 20*time.Second, "the hub refusing a member credential as a websocket leaf", testwait.True(func() bool { return refused.seen.Load() }))
	if leaf.NumLeafNodes() != 0 {
		t.Fatal("a member credential opened a websocket leaf link")
	}
	for name, creds := range map[string]string{"member": h.memberCreds["st-mary"], "site": h.creds["st-mary"]} {
		data, err := os.ReadFile(creds)
		if err != nil {
			t.Fatal(err)
		}
		opt, _ := auth.CredsOption(data)
		// The hub answers -ERR 'Authorization Violation' and closes; the
		// client may see the close first (a broken pipe on a loaded machine).
		nc, err := nats.Connect(u, opt, nats.Secure(h.tlsClient(t)), nats.NoReconnect())
		if err == nil {
			nc.Close()
			t.Fatalf("a %s credential opened a websocket client connection", name)
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Logf("a %s credential as a websocket client: %v (closed, not told why)", name, err)
		}
	}
	// A site credential is accepted there, as a leaf.
	ok := wsLeaf(t, h, u, h.creds["st-mary"], &watchLog{})
	testwait.For(t, 20*time.Second, "a site credential linked over websocket", testwait.True(func() bool { return ok.NumLeafNodes() == 1 }))
}

// TestSiteOverWebsocketSeesOnlyItsOwnMember: over websocket as over TCP,
// st-mary's site cannot source acme-pharma's site consumers nor receive
// their deliveries, while acme-pharma's own site does.
func TestSiteOverWebsocketSeesOnlyItsOwnMember(t *testing.T) {
	h := startWebsocketHub(t)
	ctx := testContext(t, 90*time.Second)
	u := h.c.Node(0).LeafWebsocketURL()
	mary := h.startSiteVia("st-mary", "", t.TempDir(), u)
	acme := h.startSiteVia("acme-pharma", "", t.TempDir(), u)
	wsLinked(t, h, mary)
	wsLinked(t, h, acme)
	maryJS := localJS(t, mary)
	var rogues []jetstream.Stream
	for _, c := range auth.SiteConsumers(h.member("acme-pharma")) {
		st, err := maryJS.CreateStream(ctx, jetstream.StreamConfig{Name: "ROGUE-" + c.Stream, Sources: []*jetstream.StreamSource{{
			Name: c.Stream, External: &jetstream.ExternalStream{APIPrefix: "$JS.tocsin.API"},
			Consumer: &jetstream.StreamConsumerSource{Name: c.Name, DeliverSubject: c.Deliver},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		rogues = append(rogues, st)
	}
	nc, err := nats.Connect(mary.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var leaked atomic.Int32
	for _, subj := range []string{"tocsin.site.acme-pharma.>", "tocsin.inbox.acme-pharma", "tocsin.sector.pharma.>"} {
		if _, err := nc.Subscribe(subj, func(*nats.Msg) { leaked.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	_ = nc.Flush()
	h.route(ctx, "tocsin.inbox.acme-pharma", "wx1:inbox.acme-pharma")
	h.route(ctx, "tocsin.sector.pharma.flash", "wx2:pharma")
	acmeJS := localJS(t, acme)
	waitMsgs(ctx, t, acmeJS, "INBOX", 1)
	waitMsgs(ctx, t, acmeJS, "SECTORS", 1)
	for _, st := range rogues {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 0 {
			t.Fatalf("st-mary's site sourced %d of acme-pharma's messages into %s", info.State.Msgs, info.Config.Name)
		}
	}
	if leaked.Load() != 0 {
		t.Fatalf("st-mary's site received %d of acme-pharma's messages", leaked.Load())
	}
	for _, stream := range []string{"INBOX", "SECTORS"} {
		if err := wantMsgs(ctx, maryJS, stream, 0); err != nil {
			t.Fatalf("st-mary's own streams: %v", err)
		}
	}
}

// wsLeaf starts a bare nats-server dialling the hub's websocket listener
// u as a leaf node with creds.
func wsLeaf(t *testing.T, h *hub, u, creds string, log server.Logger) *server.Server {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	remote := &server.RemoteLeafOpts{URLs: []*url.URL{parsed}, Credentials: creds, TLS: true, TLSConfig: h.tlsClient(t)}
	s, err := server.NewServer(&server.Options{ServerName: "ws-leaf-" + filepath.Base(creds), Host: "127.0.0.1", Port: -1, NoSigs: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{remote}}})
	if err != nil {
		t.Fatal(err)
	}
	s.SetLoggerV2(log, false, false, false)
	s.Start()
	t.Cleanup(s.Shutdown)
	return s
}

// connectProxy is an HTTP proxy that tunnels CONNECT requests carrying
// Proxy-Authorization and refuses anything else; it counts its tunnels.
func connectProxy(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var tunnels atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil || req.Method != http.MethodConnect || req.Header.Get("Proxy-Authorization") == "" {
					_, _ = io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
					c.Close()
					return
				}
				up, err := net.DialTimeout("tcp", req.Host, 2*time.Second)
				if err != nil {
					_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					c.Close()
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				tunnels.Add(1)
				go func() { _, _ = io.Copy(up, c); up.Close() }()
				_, _ = io.Copy(c, up)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String(), &tunnels
}
