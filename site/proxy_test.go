package site_test

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/site"
)

// TestSiteLinksThroughAnHTTPConnectProxy: a hospital network lets the
// site out only through an HTTP proxy; the leaf link goes through it with
// CONNECT (TLS to the hub inside the tunnel) and sources as usual.
func TestSiteLinksThroughAnHTTPConnectProxy(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 60*time.Second)
	var tunnels atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get("Proxy-Authorization") == "" {
			http.Error(w, "CONNECT with credentials only", http.StatusProxyAuthRequired)
			return
		}
		up, err := net.DialTimeout("tcp", r.Host, 2*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		tunnels.Add(1)
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	s, err := site.New(ctx, site.Options{Hub: []string{h.c.Node(0).LeafURL()}, Creds: h.creds["st-mary"], CA: h.ca, DataDir: t.TempDir(),
		Listen: "127.0.0.1:-1", Proxy: "http://soc:secret@" + ln.Addr().String(), Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Exit)
	testwait.For(t, 20*time.Second, "the leaf link up through the proxy", testwait.True(func() bool { up, _ := s.Link(); return up }))
	if tunnels.Load() == 0 {
		t.Fatal("the link is up but did not go through the proxy")
	}
	h.route(ctx, "tocsin.inbox.st-mary", "p1:inbox.st-mary")
	waitMsgs(ctx, t, localJS(t, s), "INBOX", 1)
}
