package broker

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/auth"
)

// A node given LeafOptions listens for member sites over TLS (its own
// certificate by default) and has the hub's JetStream domain; without
// TLS, an authenticating node refuses to open one.
func TestNodeLeafListenerRequiresTLSAndTheHubDomain(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sa := a.ServerAuth(nil)
	plain := NodeOptions{Name: "n1", Standalone: true, Port: RandomPort, StoreDir: t.TempDir(), Auth: sa, Leaf: &LeafOptions{Port: RandomPort}}
	if _, err := NewNode(plain, zaptest.NewLogger(t)); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "leaf.tls") {
		t.Fatalf("leaf listener without tls under auth: %v, want ErrInvalidOptions naming leaf.tls", err)
	}
	dev := plain
	dev.Leaf = &LeafOptions{Port: RandomPort, InsecureNoTLS: true}
	dn, err := NewNode(dev, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("a dev node's plain-text leaf listener, asked for: %v", err)
	}
	dn.Shutdown()
	files := testTLS(t)
	o := plain
	o.StoreDir = t.TempDir()
	o.TLS = files
	n, err := NewNode(o, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Shutdown)
	v, err := n.Server().Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.LeafNode.Port == 0 || !v.LeafNode.TLSRequired || v.LeafNode.TLSVerify {
		t.Fatalf("leaf listener: port %d, tls required %v, verify %v; want a TLS listener that authenticates sites by their credentials", v.LeafNode.Port, v.LeafNode.TLSRequired, v.LeafNode.TLSVerify)
	}
	if v.JetStream.Config == nil || v.JetStream.Config.Domain != DefaultHubDomain {
		t.Fatalf("jetstream domain %+v, want %q", v.JetStream.Config, DefaultHubDomain)
	}
	if !strings.HasPrefix(n.LeafURL(), "nats-leaf://127.0.0.1:") {
		t.Fatalf("leaf url %q", n.LeafURL())
	}
	if v.Websocket.Port != 0 || v.MQTT.Port != 0 {
		t.Fatalf("websocket %d, mqtt %d: only the leaf listener was asked for", v.Websocket.Port, v.MQTT.Port)
	}
}
