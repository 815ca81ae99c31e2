package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/site"
)

func TestNodeConfigLeafOpensTheSiteListener(t *testing.T) {
	o, err := loadConfig(t, gatewayBase+`
leaf:
  listen: 0.0.0.0:7422
  advertise: hub.example.org:7422
`)
	if err != nil {
		t.Fatal(err)
	}
	l := o.Node.Leaf
	if l == nil || l.Host != "0.0.0.0" || l.Port != 7422 || l.Advertise != "hub.example.org:7422" || l.TLS != nil {
		t.Fatalf("leaf options %+v (tls defaults to the node's when the node starts)", l)
	}
	if _, err := loadConfig(t, gatewayBase+"leaf: {listen: nowhere}\n"); err == nil || !strings.Contains(err.Error(), "leaf.listen") {
		t.Fatalf("a bad leaf.listen: %v, want an error naming it", err)
	}
}

func TestNodeConfigLeafWebsocketOpensTheWSSListener(t *testing.T) {
	o, err := loadConfig(t, gatewayBase+`
leaf:
  listen: 0.0.0.0:7422
  websocket:
    listen: 0.0.0.0:443
    advertise: hub.example.org:443
`)
	if err != nil {
		t.Fatal(err)
	}
	w := o.Node.Leaf.Websocket
	if w == nil || w.Host != "0.0.0.0" || w.Port != 443 || w.Advertise != "hub.example.org:443" || w.TLS != nil || w.InsecureNoTLS {
		t.Fatalf("websocket options %+v (tls defaults to the leaf listener's when the node starts)", w)
	}
	o, err = loadConfig(t, gatewayBase+"leaf: {websocket: {listen: 127.0.0.1:8443, insecure_no_tls: true}}\n")
	if err != nil || !o.Node.Leaf.Websocket.InsecureNoTLS {
		t.Fatalf("a loopback plain websocket: %v", err)
	}
	if _, err := loadConfig(t, gatewayBase+"leaf: {websocket: {listen: nowhere}}\n"); err == nil || !strings.Contains(err.Error(), "leaf.websocket.listen") {
		t.Fatalf("a bad leaf.websocket.listen: %v, want an error naming it", err)
	}
}

// TestDevSiteOverWebsocketIsOnRecord: a dev cluster with leaf listeners
// also listens for sites over WebSocket (ws:// on loopback, no --tls);
// st-mary's site linked there is on record in SITES, by the node it is
// on, as the hub's console shows it.
func TestDevSiteOverWebsocketIsOnRecord(t *testing.T) {
	s := startDevWith(t, &DevOptions{DataDir: t.TempDir(), Port: broker.RandomPort, LeafPort: broker.RandomPort})
	urls := s.LeafWebsocketURLs()
	if len(urls) != 3 || !strings.HasPrefix(urls[0], "ws://127.0.0.1:") {
		t.Fatalf("websocket leaf urls %v, want one ws:// per node", urls)
	}
	call, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	creds, err := s.DevSiteCreds(call, "st-mary")
	if err != nil {
		t.Fatal(err)
	}
	st, err := site.New(call, site.Options{Hub: urls, Creds: creds, DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Log: zaptest.NewLogger(t).Named("site")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Exit)
	kv, err := s.js.KeyValue(call, records.BucketSites)
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "st-mary's site on record, over websocket", func() error {
		c, ok, err := records.ReadSite(call, kv, "st-mary", time.Now())
		if err != nil || !ok || !c.Up || c.Transport != "websocket" || c.Site != st.Name() {
			return fmt.Errorf("record %+v (%v)", c, err)
		}
		return nil
	})
}
