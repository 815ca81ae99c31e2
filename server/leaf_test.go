package server

import (
	"strings"
	"testing"
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
