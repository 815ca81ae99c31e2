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
