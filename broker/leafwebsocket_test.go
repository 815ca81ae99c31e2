package broker

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/auth"
)

// A leaf listener with Websocket also serves wss:// with the leaf
// listener's certificate; plain ws:// is refused unless asked for, and
// then on a loopback address only.
func TestNodeLeafWebsocketRequiresTLSExceptOnLoopback(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := testTLS(t)
	node := func(leaf *LeafOptions) NodeOptions {
		return NodeOptions{Name: "n1", Standalone: true, Port: RandomPort, StoreDir: t.TempDir(), Auth: a.ServerAuth(nil), Leaf: leaf}
	}
	for _, bad := range []struct {
		leaf  *LeafOptions
		field string
	}{
		{&LeafOptions{Port: RandomPort, InsecureNoTLS: true, Websocket: &LeafWebsocketOptions{Port: RandomPort}}, "leaf.websocket.tls"},
		{&LeafOptions{Port: RandomPort, TLS: files, Websocket: &LeafWebsocketOptions{Host: "0.0.0.0", Port: RandomPort, InsecureNoTLS: true}}, "leaf.websocket.insecure_no_tls"},
		{&LeafOptions{Port: RandomPort, TLS: files, Websocket: &LeafWebsocketOptions{Port: RandomPort, TLS: files, InsecureNoTLS: true}}, "leaf.websocket.insecure_no_tls"},
	} {
		if _, err := NewNode(node(bad.leaf), zaptest.NewLogger(t)); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), bad.field) {
			t.Fatalf("websocket %+v: %v, want ErrInvalidOptions naming %s", bad.leaf.Websocket, err, bad.field)
		}
	}
	dev, err := NewNode(node(&LeafOptions{Port: RandomPort, InsecureNoTLS: true, Websocket: &LeafWebsocketOptions{Port: RandomPort, InsecureNoTLS: true}}), zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("a dev node's plain-text websocket on loopback, asked for: %v", err)
	}
	if !strings.HasPrefix(dev.LeafWebsocketURL(), "ws://127.0.0.1:") {
		t.Fatalf("plain websocket url %q", dev.LeafWebsocketURL())
	}
	dev.Shutdown()
	n, err := NewNode(node(&LeafOptions{Port: RandomPort, TLS: files, Websocket: &LeafWebsocketOptions{Port: RandomPort}}), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Shutdown)
	v, err := n.Server().Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Websocket.Port == 0 || v.Websocket.NoTLS || v.LeafNode.Port == 0 || v.Websocket.HandshakeTimeout != LeafWebsocketHandshakeTimeout {
		t.Fatalf("websocket port %d, tls %v, leaf port %d: want a TLS websocket beside the leaf listener, handshakes bounded (%s)", v.Websocket.Port, !v.Websocket.NoTLS, v.LeafNode.Port, v.Websocket.HandshakeTimeout)
	}
	if !strings.HasPrefix(n.LeafWebsocketURL(), "wss://127.0.0.1:") {
		t.Fatalf("websocket url %q", n.LeafWebsocketURL())
	}
	if NodeOptions.withDefaults(NodeOptions{Leaf: &LeafOptions{Websocket: &LeafWebsocketOptions{}}}).Leaf.Websocket.Port != DefaultLeafWebsocketPort {
		t.Fatal("the websocket port does not default to 443")
	}
}
