package broker

import (
	"fmt"
	"net"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tocsin-project/tocsin/internal/freeport"
)

// Defaults for LeafOptions.
const (
	// DefaultLeafPort is the NATS leaf node port member sites dial.
	DefaultLeafPort = 7422
	// DefaultHubDomain is the JetStream domain of a cluster that accepts
	// member sites: a site's streams reach the hub's through
	// "$JS.<domain>.API" (docs/SITES.md).
	DefaultHubDomain = "tocsin"
)

// LeafOptions open a leaf node listener on the node, for member sites
// (`tocsin site`): each site is an embedded nats-server of its own that
// dials in as a leaf node with a site credential (auth.IssueSite), the only
// credential allowed the LEAFNODE connection type. It also gives the
// node's JetStream a domain, so that a site's own JetStream (its own
// domain) and the hub's stay apart: every node of a cluster sets the same
// LeafOptions.Domain.
type LeafOptions struct {
	// Host is the address the leaf listener binds. Default: the node's Host.
	Host string
	// Port is the leaf port. Default 7422 (DefaultLeafPort); RandomPort
	// picks a free one.
	Port int
	// Advertise is the host:port sites are told to dial, when it differs
	// from the bound address (NAT, a proxy). Default: the bound address.
	Advertise string
	// TLS is the leaf listener's certificate. Default: the node's client
	// TLS (NodeOptions.TLS). A leaf listener without TLS is refused when
	// the node authenticates (Auth set): a site's credentials and its
	// member's traffic would cross the WAN in plain text.
	TLS *TLSOptions
	// Domain is the hub's JetStream domain. Default "tocsin"
	// (DefaultHubDomain).
	Domain string
	// InsecureNoTLS accepts sites in plain text even with Auth set (the
	// site credentials still authenticate). For `tocsin dev` without
	// --tls only. Default false.
	InsecureNoTLS bool
	// Websocket also accepts sites' leaf links over WebSocket (wss://, port
	// 443 by default), for networks that let out only HTTPS. Default: none.
	Websocket *LeafWebsocketOptions
}

// withDefaults returns l with its listener defaulted from the node's.
func (l LeafOptions) withDefaults(o NodeOptions) LeafOptions {
	if l.Host == "" {
		l.Host = o.Host
	}
	if l.Port == 0 {
		l.Port = DefaultLeafPort
	}
	if l.Port == RandomPort {
		if ports, err := freeport.Pick(l.Host, 1); err == nil {
			l.Port = ports[0]
		}
	}
	if l.TLS == nil {
		l.TLS = o.TLS
	}
	if l.Domain == "" {
		l.Domain = DefaultHubDomain
	}
	if l.Websocket != nil {
		w := l.Websocket.withDefaults(l)
		l.Websocket = &w
	}
	return l
}

// validate checks the leaf listener of node options o (already defaulted).
func (l LeafOptions) validate(o NodeOptions) error {
	bad := func(field, format string, v ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, v...))
	}
	if err := checkPort(l.Port); err != nil {
		return bad("leaf.port", "%v (no free port to pick?)", err)
	}
	if !nameRE.MatchString(l.Domain) {
		return bad("leaf.domain", "%q is not a valid JetStream domain; use letters, digits, '-' or '_'", l.Domain)
	}
	if o.Auth != nil && l.TLS == nil && !l.InsecureNoTLS {
		return bad("leaf.tls", "required with operator-mode auth: give the leaf listener (or the node's client listener) a certificate")
	}
	if l.TLS != nil {
		if err := l.TLS.check("leaf.tls", false); err != nil {
			return err
		}
	}
	if l.Websocket != nil {
		return l.Websocket.validate()
	}
	return nil
}

// applyLeaf sets so's leaf node listener and JetStream domain from o.Leaf.
// Authentication is the node's operator mode: a site's user JWT is checked
// against its member's account like any client's, and its connection type
// must be LEAFNODE (auth.IssueSite).
func (o NodeOptions) applyLeaf(so *server.Options) error {
	l := o.Leaf
	so.JetStreamDomain = l.Domain
	so.LeafNode = server.LeafNodeOpts{Host: l.Host, Port: l.Port, Advertise: l.Advertise}
	if l.TLS != nil {
		cfg, err := l.TLS.config(false)
		if err != nil {
			return fmt.Errorf("%w: leaf.tls: %v", ErrInvalidOptions, err)
		}
		so.LeafNode.TLSConfig, so.LeafNode.TLSTimeout = cfg, l.TLS.timeout()
	}
	if l.Websocket != nil {
		return l.Websocket.apply(so)
	}
	return nil
}

// LeafURL is the URL member sites dial ("nats-leaf://HOST:PORT"), or ""
// when the node has no leaf listener.
func (n *Node) LeafURL() string {
	if n.opts.Leaf == nil {
		return ""
	}
	host := n.opts.Leaf.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = DefaultHost
	}
	return "nats-leaf://" + net.JoinHostPort(host, strconv.Itoa(n.opts.Leaf.Port))
}
