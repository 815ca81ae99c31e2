package broker

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultGatewayPort is the NATS gateway port.
const DefaultGatewayPort = 7222

// GatewayOptions join this node's cluster, a region, to the other regions
// of a supercluster through NATS gateways. The gateway's name is the
// node's ClusterName: every node of a region shares it, and it is the name
// the other regions list in their Remotes. docs/REGIONS.md says what lives
// in which region.
type GatewayOptions struct {
	// Host is the address the gateway listener binds. Default: the node's
	// ClusterHost.
	Host string
	// Port is the gateway port. Default 7222 (DefaultGatewayPort);
	// RandomPort picks a free one.
	Port int
	// Advertise is the host:port the other regions dial, when it differs
	// from the bound address (NAT, a proxy). Default: the bound address.
	Advertise string
	// Remotes are the other regions: each one's cluster name and the
	// gateway URLs of some of its nodes (the others are learned from them).
	// A node dials every one and retries forever. Required, at least one;
	// a region not listed here is refused when it dials in.
	Remotes []RemoteGateway
	// StreamsRegion is the region whose nodes hold the channel's streams
	// and buckets (ProvisionIn places them there): this node's own region
	// or one of Remotes, the same on every node of the supercluster.
	// Required unless Regions is set.
	StreamsRegion string
	// Regions are the regions that each hold their own stream set
	// (RegionSet.Regions, docs/REGIONS.md), the same on every node: two or
	// more of this node's region and Remotes; a region not listed (a
	// witness) holds none. Set instead of StreamsRegion. Default: none.
	Regions []string
	// RegistryRegion is the region of Regions where the registry (MEMBERS)
	// is written; the others hold a mirror of it. Required with Regions.
	RegistryRegion string
	// TLS requires mutual TLS on gateways, both ways, as on routes: a
	// region joins only with a certificate signed by TLS.CA, and each
	// node's certificate names the addresses the other regions dial. nil =
	// gateways in plain text without authentication (default): whoever
	// reaches the gateway port joins the supercluster.
	TLS *TLSOptions
}

// RemoteGateway is another region of the supercluster.
type RemoteGateway struct {
	// Name is the region's cluster name. Required.
	Name string
	// URLs are gateway URLs of the region's nodes ("nats://10.1.0.2:7222").
	// Required, at least one.
	URLs []string
}

// withDefaults returns g with its listener defaulted from the node's.
func (g GatewayOptions) withDefaults(o NodeOptions) GatewayOptions {
	if g.Host == "" {
		g.Host = o.ClusterHost
	}
	if g.Port == 0 {
		g.Port = DefaultGatewayPort
	}
	return g
}

// validate checks the gateway of node options o (already defaulted).
func (g GatewayOptions) validate(o NodeOptions) error {
	bad := func(field, format string, v ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, v...))
	}
	if o.Standalone {
		return bad("gateway", "a standalone node joins no region; give it a cluster: section with routes, or remove gateway:")
	}
	if err := checkPort(g.Port); err != nil {
		return bad("gateway.port", "%v", err)
	}
	if net.ParseIP(g.Host) == nil && g.Host != "localhost" {
		if _, err := net.LookupHost(g.Host); err != nil {
			return bad("gateway.host", "cannot resolve %q: %v; use an IP address of this machine", g.Host, err)
		}
	}
	if len(o.Routes) == 0 && o.ClusterPort == RandomPort {
		return bad("cluster_port", "a one-node region (a witness) needs a fixed route port: JetStream is told to route to it")
	}
	if len(g.Remotes) == 0 {
		return bad("gateway.gateways", "required: the other regions, each with its name and gateway URLs")
	}
	seen := map[string]bool{o.ClusterName: true}
	for i, r := range g.Remotes {
		field := fmt.Sprintf("gateway.gateways[%d]", i)
		if !nameRE.MatchString(r.Name) {
			return bad(field+".name", "%q is not a valid region name; use letters, digits, '-' or '_'", r.Name)
		}
		if seen[r.Name] {
			if r.Name == o.ClusterName {
				return bad(field+".name", "%q is this node's own cluster name; list only the other regions", r.Name)
			}
			return bad(field+".name", "region %q is listed twice; list each region once with all its URLs", r.Name)
		}
		seen[r.Name] = true
		if len(r.URLs) == 0 {
			return bad(field+".urls", "region %q has no URLs; give the gateway URL of at least one of its nodes", r.Name)
		}
		for j, u := range r.URLs {
			if _, err := parseGatewayURL(u); err != nil {
				return bad(fmt.Sprintf("%s.urls[%d]", field, j), "%v", err)
			}
		}
	}
	if err := g.CheckRegions(o.ClusterName); err != nil {
		return err
	}
	if g.TLS != nil {
		return g.TLS.check("gateway.tls", true)
	}
	return nil
}

// CheckRegions checks StreamsRegion, or Regions and RegistryRegion,
// against the regions a node of region own knows (its own and Remotes').
// NewNode calls it; a config loader may call it to refuse a file early.
func (g GatewayOptions) CheckRegions(own string) error {
	known := map[string]bool{own: true}
	for _, r := range g.Remotes {
		known[r.Name] = true
	}
	bad := func(field, format string, v ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, v...))
	}
	if len(g.Regions) == 0 {
		if g.RegistryRegion != "" {
			return bad("gateway.registry_region", "set without gateway.regions; list the regions that hold a stream set, or remove it")
		}
		if !known[g.StreamsRegion] {
			return bad("gateway.streams_region", "%q is not this node's region (%s) nor one of its gateways; name the region whose nodes hold the streams, the same on every node (or list gateway.regions for a stream set per region)", g.StreamsRegion, own)
		}
		return nil
	}
	if g.StreamsRegion != "" {
		return bad("gateway.streams_region", "set together with gateway.regions; a stream set per region (regions) or one streams region (streams_region), remove one of them")
	}
	if len(g.Regions) < 2 {
		return bad("gateway.regions", "%v: a stream set per region needs two regions or more; list them, or use streams_region", g.Regions)
	}
	for i, r := range g.Regions {
		if !known[r] {
			return bad(fmt.Sprintf("gateway.regions[%d]", i), "%q is not this node's region (%s) nor one of its gateways; list only regions of this supercluster", r, own)
		}
		if slices.Index(g.Regions, r) != i {
			return bad(fmt.Sprintf("gateway.regions[%d]", i), "region %q is listed twice; list each region once", r)
		}
	}
	if !slices.Contains(g.Regions, g.RegistryRegion) {
		return bad("gateway.registry_region", "%q is not one of gateway.regions %v; name the region where the member registry is written, the same on every node", g.RegistryRegion, g.Regions)
	}
	return nil
}

// RegionSet is the stream set of a node of region own, when the
// supercluster holds a set per region and own is one of them; false for a
// witness or a supercluster with one streams region.
func (g GatewayOptions) RegionSet(own string) (RegionSet, bool) {
	if !slices.Contains(g.Regions, own) {
		return RegionSet{}, false
	}
	return RegionSet{Region: own, Regions: slices.Clone(g.Regions), RegistryRegion: g.RegistryRegion}, true
}

// parseGatewayURL parses a gateway URL and resolves its host, so that a
// typo fails at start rather than being retried forever.
func parseGatewayURL(s string) (*url.URL, error) {
	return parseHostURL(s, "gateway", "nats", "tls")
}

// applyGateway sets so's gateway from o.Gateway: named after the cluster,
// every other region listed, unknown regions refused, mutual TLS when set.
// Accounts need nothing more: in operator mode every region trusts the same
// operator and shares the system account, so an account JWT pushed to one
// region's resolver reaches the others' over the gateways.
func (o NodeOptions) applyGateway(so *server.Options) error {
	g := o.Gateway
	so.Gateway = server.GatewayOpts{
		Name:          o.ClusterName,
		Host:          g.Host,
		Port:          g.Port,
		Advertise:     g.Advertise,
		RejectUnknown: true,
	}
	for _, r := range g.Remotes {
		rg := &server.RemoteGatewayOpts{Name: r.Name}
		for _, s := range r.URLs {
			u, err := parseGatewayURL(s)
			if err != nil {
				return fmt.Errorf("%w: gateway %s: %v", ErrInvalidOptions, r.Name, err)
			}
			rg.URLs = append(rg.URLs, u)
		}
		so.Gateway.Gateways = append(so.Gateway.Gateways, rg)
	}
	// A one-node region, a witness that only adds its vote to the meta
	// group, routes to itself: nats-server runs clustered JetStream only
	// with a configured route, and ignores a route to itself.
	if len(so.Routes) == 0 {
		so.Routes = []*url.URL{{Scheme: "nats-route", Host: net.JoinHostPort(o.ClusterHost, strconv.Itoa(o.ClusterPort))}}
	}
	if g.TLS != nil {
		cfg, err := g.TLS.config(true)
		if err != nil {
			return fmt.Errorf("%w: gateway.tls: %v", ErrInvalidOptions, err)
		}
		so.Gateway.TLSConfig, so.Gateway.TLSTimeout = cfg, g.TLS.timeout()
	}
	return nil
}

// GatewayURL is the nats:// URL other regions dial, or "" without a gateway.
func (n *Node) GatewayURL() string {
	if n.opts.Gateway == nil {
		return ""
	}
	if n.opts.Gateway.Advertise != "" {
		return "nats://" + n.opts.Gateway.Advertise
	}
	if p := n.GatewayPort(); p > 0 {
		return "nats://" + net.JoinHostPort(n.opts.Gateway.Host, strconv.Itoa(p))
	}
	return ""
}

// GatewayPort is the bound gateway port, or 0 without a gateway.
func (n *Node) GatewayPort() int {
	if n.opts.Gateway == nil {
		return 0
	}
	return n.srv.GatewayAddr().Port
}

// Region is the node's region: its cluster name, when it has a gateway;
// "" for a node of a single-cluster deployment.
func (n *Node) Region() string {
	if n.opts.Gateway == nil {
		return ""
	}
	return n.opts.ClusterName
}
