package server

import "github.com/tocsin-project/tocsin/broker"

// LeafConfig is the `leaf:` section of a node config: a leaf node listener
// for member sites (`tocsin site`, docs/SITES.md) and the hub's JetStream
// domain. Give every node of the cluster the same section.
type LeafConfig struct {
	// Listen is the leaf listener, HOST:PORT. Default: listen's host,
	// port 7422.
	Listen string `yaml:"listen"`
	// Advertise is the HOST:PORT sites are told to dial. Default: listen.
	Advertise string `yaml:"advertise"`
	// Domain is the hub's JetStream domain. Default "tocsin".
	Domain string `yaml:"domain"`
	// TLS is the leaf listener's certificate. Default: the node's tls.
	// Required with auth (a site's link crosses the WAN).
	TLS *TLSConfig `yaml:"tls"`
	// Websocket also accepts sites' leaf links over WebSocket, for
	// hospital networks that let out only HTTPS (sites dial
	// wss://HOST:PORT). Default: none.
	Websocket *LeafWebsocketConfig `yaml:"websocket"`
}

// LeafWebsocketConfig is `leaf.websocket:`, nats-server's websocket
// listener, taking the same site credentials as the leaf listener.
type LeafWebsocketConfig struct {
	// Listen is its HOST:PORT. Default: leaf.listen's host, port 443.
	Listen string `yaml:"listen"`
	// Advertise is the HOST:PORT sites are told to dial (a reverse proxy
	// in front of it). Default: listen.
	Advertise string `yaml:"advertise"`
	// TLS is its certificate. Default: the leaf listener's.
	TLS *TLSConfig `yaml:"tls"`
	// InsecureNoTLS serves plain ws://, on a loopback listen address only
	// (a TLS-terminating proxy on the same machine, or a trial). Default
	// false.
	InsecureNoTLS bool `yaml:"insecure_no_tls"`
}

// leafOptions sets n's leaf listener from c.Leaf, if any.
func (c NodeConfig) leafOptions(n *broker.NodeOptions) error {
	if c.Leaf == nil {
		return nil
	}
	l := &broker.LeafOptions{Advertise: c.Leaf.Advertise, Domain: c.Leaf.Domain, TLS: c.Leaf.TLS.options()}
	if c.Leaf.Listen != "" {
		var err error
		if l.Host, l.Port, err = splitHostPort(c.Leaf.Listen); err != nil {
			return configErr("leaf.listen", "%v", err)
		}
	}
	if w := c.Leaf.Websocket; w != nil {
		l.Websocket = &broker.LeafWebsocketOptions{Advertise: w.Advertise, TLS: w.TLS.options(), InsecureNoTLS: w.InsecureNoTLS}
		if w.Listen != "" {
			var err error
			if l.Websocket.Host, l.Websocket.Port, err = splitHostPort(w.Listen); err != nil {
				return configErr("leaf.websocket.listen", "%v", err)
			}
		}
	}
	n.Leaf = l
	return nil
}

// devWebsocketPort is dev node i's websocket leaf port: 8443+i beside
// leaf ports from 7422 (shifted with them).
func devWebsocketPort(leafBase, i int) int {
	if leafBase == broker.RandomPort {
		return broker.RandomPort
	}
	return leafBase - broker.DefaultLeafPort + 8443 + i
}

// LeafWebsocketURLs are the nodes' websocket leaf URLs (wss://, or ws://
// on a dev cluster without TLS); none without websocket listeners.
func (s *Server) LeafWebsocketURLs() []string {
	var out []string
	for _, n := range s.localNodes() {
		if u := n.LeafWebsocketURL(); u != "" {
			out = append(out, u)
		}
	}
	return out
}
