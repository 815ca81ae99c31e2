package server

import (
	"fmt"

	"github.com/tocsin-project/tocsin/broker"
)

// GatewayConfig is the gateway: section of a node config: it joins the
// node's region (its cluster_name) to the other regions of a supercluster.
// docs/REGIONS.md says what lives where; deploy/regions/ has an example.
type GatewayConfig struct {
	// Listen is the gateway listener, HOST:PORT. Default: cluster.listen's
	// host, port 7222.
	Listen string `yaml:"listen"`
	// Advertise is the HOST:PORT the other regions dial for this node.
	// Default: listen.
	Advertise string `yaml:"advertise"`
	// StreamsRegion is the region whose nodes hold the channel's streams
	// and buckets, the same on every node of every region. Required unless
	// regions is set (then it must be absent).
	StreamsRegion string `yaml:"streams_region"`
	// Regions are the regions that each hold their own stream set, so that
	// losing one costs only that region (docs/REGIONS.md), the same on
	// every node: two or more of this node's region and the gateways'; a
	// region not listed, a witness, holds none and runs no service. Set
	// instead of streams_region. Default: none (one streams region).
	Regions []string `yaml:"regions,omitempty"`
	// RegistryRegion is the region of regions where the member registry
	// is written (admissions, revocations); every other region reads a
	// mirror of it. Required with regions, the same on every node.
	RegistryRegion string `yaml:"registry_region,omitempty"`
	// Gateways are the other regions, each with its cluster_name and the
	// gateway URLs (nats://HOST:PORT) of some of its nodes. Required; a
	// region not listed is refused when it dials in.
	Gateways []RemoteGatewayConfig `yaml:"gateways"`
	// TLS is the gateways' mutual TLS: only a region whose nodes hold
	// certificates signed by ca may join. Required unless insecure_no_tls.
	TLS *TLSConfig `yaml:"tls"`
}

// RemoteGatewayConfig is another region in a node config.
type RemoteGatewayConfig struct {
	// Name is the region's cluster_name. Required.
	Name string `yaml:"name"`
	// URLs are gateway URLs of the region's nodes. Required, one or more.
	URLs []string `yaml:"urls"`
}

// gatewayOptions sets n's gateway from c.Gateway; a node alone in its
// region (a witness: a vote in the meta group, no streams) is clustered
// all the same, on its cluster.listen.
func (c NodeConfig) gatewayOptions(n *broker.NodeOptions) error {
	g := c.Gateway
	if g == nil {
		return nil
	}
	switch {
	case c.InsecureNoTLS && g.TLS != nil:
		return configErr("insecure_no_tls", "set together with gateway.tls; remove one of them")
	case !c.InsecureNoTLS && g.TLS == nil:
		return configErr("gateway.tls", "required on a gateway: without it whoever reaches the gateway port joins the supercluster; "+
			"give the node's cert, key and the CA that signed every region's node certificates (see deploy/regions/README.md)")
	}
	if len(c.Cluster.Routes) == 0 {
		if c.Cluster.Listen == "" {
			return configErr("cluster.listen", "required on a node alone in its region (a witness): JetStream runs clustered on it")
		}
		n.Standalone = false
	}
	gw := &broker.GatewayOptions{Advertise: g.Advertise, StreamsRegion: g.StreamsRegion, Regions: g.Regions, RegistryRegion: g.RegistryRegion, TLS: g.TLS.options()}
	if g.Listen != "" {
		host, port, err := splitHostPort(g.Listen)
		if err != nil {
			return configErr("gateway.listen", "%v", err)
		}
		gw.Host, gw.Port = host, port
	}
	for _, r := range g.Gateways {
		gw.Remotes = append(gw.Remotes, broker.RemoteGateway{Name: r.Name, URLs: r.URLs})
	}
	if err := gw.CheckRegions(n.ClusterName); err != nil {
		return err
	}
	n.Gateway = gw
	return nil
}

// missingGateways names the other regions a node of a supercluster has no
// gateway to: their nodes are down, or the WAN between is cut.
func missingGateways(n *broker.Node) []string {
	g := n.Options().Gateway
	if g == nil {
		return nil
	}
	gz, err := n.Server().Gatewayz(nil)
	if err != nil {
		return []string{fmt.Sprintf("gateways: %v", err)}
	}
	var out []string
	for _, r := range g.Remotes {
		if _, ok := gz.OutboundGateways[r.Name]; !ok {
			out = append(out, fmt.Sprintf("no gateway to region %s (retrying): are its nodes up, and is their gateway port reachable from here?", r.Name))
		}
	}
	return out
}
