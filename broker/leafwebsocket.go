package broker

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tocsin-project/tocsin/internal/freeport"
)

// DefaultLeafWebsocketPort is the port of the WebSocket leaf listener:
// HTTPS's, which hospital networks let out when they let nothing else.
const DefaultLeafWebsocketPort = 443

// LeafWebsocketHandshakeTimeout bounds a site's TLS and WebSocket
// handshake on the websocket listener (a port open to the internet must
// not hold half-open connections forever), with room for a slow link.
const LeafWebsocketHandshakeTimeout = 10 * time.Second

// LeafWebsocketOptions open nats-server's websocket listener for member
// sites whose network lets out only HTTPS: the site dials
// "wss://HOST:PORT" and its leaf link runs inside a WebSocket
// (nats-server's /leafnode path), authenticated exactly as on the TCP leaf
// listener: a site credential, whose connection types are LEAFNODE and
// LEAFNODE_WS only (auth.IssueSite). The same listener would take
// WebSocket clients: member credentials are STANDARD only, so it refuses
// them (site.TestSiteOverWebsocketRefusesAMemberCredential).
type LeafWebsocketOptions struct {
	// Host is the address it binds. Default: the leaf listener's Host.
	Host string
	// Port is its port. Default 443 (DefaultLeafWebsocketPort);
	// RandomPort picks a free one.
	Port int
	// Advertise is the host:port sites are told to dial, when it differs
	// from the bound address (a reverse proxy, NAT). Default: the bound
	// address.
	Advertise string
	// TLS is its certificate. Default: the leaf listener's TLS. Required
	// unless InsecureNoTLS.
	TLS *TLSOptions
	// InsecureNoTLS serves plain ws:// on a loopback Host only (`tocsin
	// dev` without --tls, or behind a TLS-terminating proxy on the same
	// machine); refused on any other address. Default false.
	InsecureNoTLS bool
}

// withDefaults returns w defaulted from the leaf listener l.
func (w LeafWebsocketOptions) withDefaults(l LeafOptions) LeafWebsocketOptions {
	if w.Host == "" {
		w.Host = l.Host
	}
	if w.Port == 0 {
		w.Port = DefaultLeafWebsocketPort
	}
	if w.Port == RandomPort {
		if ports, err := freeport.Pick(w.Host, 1); err == nil {
			w.Port = ports[0]
		}
	}
	if w.TLS == nil && !w.InsecureNoTLS {
		w.TLS = l.TLS
	}
	return w
}

// validate checks w (already defaulted).
func (w LeafWebsocketOptions) validate() error {
	bad := func(field, format string, v ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, v...))
	}
	if err := checkPort(w.Port); err != nil {
		return bad("leaf.websocket.port", "%v (no free port to pick?)", err)
	}
	switch {
	case w.InsecureNoTLS && w.TLS != nil:
		return bad("leaf.websocket.insecure_no_tls", "set with a tls certificate; keep one of them")
	case w.InsecureNoTLS && !isLoopback(w.Host):
		return bad("leaf.websocket.insecure_no_tls", "only on a loopback address, not %q: a site's credentials and its member's traffic would cross the network in plain text", w.Host)
	case w.TLS == nil && !w.InsecureNoTLS:
		return bad("leaf.websocket.tls", "required: give the websocket listener (or the leaf listener) a certificate")
	}
	if w.TLS != nil {
		return w.TLS.check("leaf.websocket.tls", false)
	}
	return nil
}

// isLoopback reports whether host is a loopback address or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apply sets so's websocket listener from w.
func (w LeafWebsocketOptions) apply(so *server.Options) error {
	so.Websocket = server.WebsocketOpts{Host: w.Host, Port: w.Port, Advertise: w.Advertise, NoTLS: w.InsecureNoTLS, HandshakeTimeout: LeafWebsocketHandshakeTimeout}
	if w.TLS != nil {
		cfg, err := w.TLS.config(false)
		if err != nil {
			return fmt.Errorf("%w: leaf.websocket.tls: %v", ErrInvalidOptions, err)
		}
		so.Websocket.TLSConfig = cfg
	}
	return nil
}

// LeafWebsocketURL is the URL member sites dial over WebSocket
// ("wss://HOST:PORT", "ws://" when plain), or "" when the node has none.
func (n *Node) LeafWebsocketURL() string {
	if n.opts.Leaf == nil || n.opts.Leaf.Websocket == nil {
		return ""
	}
	w := n.opts.Leaf.Websocket
	host := w.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = DefaultHost
	}
	scheme := "wss"
	if w.TLS == nil {
		scheme = "ws"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(w.Port))
}
