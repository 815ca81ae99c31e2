package broker

import (
	"errors"
	"strings"
	"testing"
)

func TestGatewayOptionsRefusedNamingTheField(t *testing.T) {
	remote := func(name string, urls ...string) RemoteGateway { return RemoteGateway{Name: name, URLs: urls} }
	for _, tc := range []struct {
		name string
		gw   GatewayOptions
		mod  func(o *NodeOptions)
		want string
	}{
		{"no remotes", GatewayOptions{}, nil, "gateway.gateways: required"},
		{"own region listed", GatewayOptions{Remotes: []RemoteGateway{remote("tocsin", "nats://127.0.0.1:7222")}}, nil, "own cluster name"},
		{"region twice", GatewayOptions{Remotes: []RemoteGateway{remote("b", "nats://127.0.0.1:7222"), remote("b", "nats://127.0.0.1:7223")}}, nil, "listed twice"},
		{"bad region name", GatewayOptions{Remotes: []RemoteGateway{remote("b c", "nats://127.0.0.1:7222")}}, nil, "gateway.gateways[0].name"},
		{"no urls", GatewayOptions{Remotes: []RemoteGateway{remote("b")}}, nil, "gateway.gateways[0].urls: region \"b\" has no URLs"},
		{"route scheme", GatewayOptions{Remotes: []RemoteGateway{remote("b", "nats-route://127.0.0.1:7222")}}, nil, "gateway.gateways[0].urls[0]"},
		{"bad port", GatewayOptions{Port: 70000, Remotes: []RemoteGateway{remote("b", "nats://127.0.0.1:7222")}}, nil, "gateway.port"},
		{"tls without ca", GatewayOptions{Remotes: []RemoteGateway{remote("b", "nats://127.0.0.1:7222")}, TLS: &TLSOptions{Cert: "c", Key: "k"}}, nil, "gateway.tls.ca: required"},
		{"streams region unknown", GatewayOptions{StreamsRegion: "c", Remotes: []RemoteGateway{remote("b", "nats://127.0.0.1:7222")}}, nil, "gateway.streams_region: \"c\" is not this node's region"},
		{"standalone", GatewayOptions{Remotes: []RemoteGateway{remote("b", "nats://127.0.0.1:7222")}}, func(o *NodeOptions) { o.Standalone = true }, "a standalone node joins no region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := tc.gw
			if gw.StreamsRegion == "" {
				gw.StreamsRegion = "tocsin"
			}
			o := NodeOptions{Name: "a-1", StoreDir: t.TempDir(), Gateway: &gw}
			if tc.mod != nil {
				tc.mod(&o)
			}
			_, err := NewNode(o, nil)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewNode: %v, want ErrInvalidOptions saying %q", err, tc.want)
			}
		})
	}
}

func TestServerOptionsGatewayIsTheClusterRefusingUnknownRegions(t *testing.T) {
	tlso := testTLS(t)
	o := NodeOptions{Name: "a-1", ClusterName: "a", StoreDir: t.TempDir(), Gateway: &GatewayOptions{StreamsRegion: "b",
		Remotes: []RemoteGateway{{Name: "b", URLs: []string{"nats://127.0.0.1:7300", "nats://127.0.0.1:7301"}}}, TLS: tlso,
	}}.withDefaults()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	so, err := o.serverOptions()
	if err != nil {
		t.Fatal(err)
	}
	g := so.Gateway
	if g.Name != "a" || g.Port != DefaultGatewayPort || g.Host != DefaultHost || !g.RejectUnknown {
		t.Fatalf("gateway %q on %s:%d reject unknown %v; want a on 127.0.0.1:%d refusing unknown regions", g.Name, g.Host, g.Port, g.RejectUnknown, DefaultGatewayPort)
	}
	if len(g.Gateways) != 1 || g.Gateways[0].Name != "b" || len(g.Gateways[0].URLs) != 2 {
		t.Fatalf("remotes %+v, want b with two URLs", g.Gateways)
	}
	if g.TLSConfig == nil || g.TLSConfig.RootCAs == nil || g.TLSConfig.ClientCAs == nil {
		t.Fatalf("gateway TLS %+v, want mutual TLS trusting the CA both ways", g.TLSConfig)
	}
}
