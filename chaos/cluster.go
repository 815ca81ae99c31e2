package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/chaos/lazyfs"
	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/server"
)

// node is one `tocsin node` process of the cluster.
type node struct {
	idx       int
	name      string
	region    string // "" in the one-cluster layout
	config    string
	clientURL string
	httpAddr  string
	listen    string // the real route listener, reached only through proxies
	gwListen  string // the real gateway listener (regions), through proxies
	leaf      string // the real leaf listener (sites), through the sites' proxies
	proc      *proc
	// store is the node's store on a lazy file system (nil: a plain
	// directory); backing is the directory under it.
	store   *lazyfs.FS
	backing string
}

// cluster is the node processes on loopback, with auth and TLS from
// tocsin init, whose routes and gateways all run through proxies.
type cluster struct {
	bin, dir, keys string
	lay            layout
	nodes          []*node
	// routes[i][j] carries node i's routes to node j (same region only).
	routes [][]*Proxy
	// adverts[j] is the route address node j advertises to its peers.
	adverts []*Proxy
	// gws[i][j] carries node i's gateway connections to node j (other
	// regions only).
	gws [][]*Proxy
	// voids[j] is what node j advertises as its gateway and leaf address:
	// a proxy that refuses everything, so that nothing learnt by gossip
	// dials around the proxies above and the sites' own.
	voids []*Proxy
	log   *zap.Logger
}

// nodeCount is the size of the one-cluster layout and of each region
// with a stream set: R3 streams.
const nodeCount = 3

// newCluster runs tocsin init in dir/keys and writes the configs of the
// one-cluster layout's three nodes; it starts nothing. With lazy, each
// node's store is a lazy file system (see package lazyfs) that a power
// loss can take unsynced writes from.
func newCluster(ctx context.Context, bin, dir, sync string, lazy bool, log *zap.Logger) (*cluster, error) {
	return newClusterOf(ctx, oneCluster(false), bin, dir, sync, lazy, log)
}

// newClusterOf is newCluster for the nodes of lay.
func newClusterOf(ctx context.Context, lay layout, bin, dir, sync string, lazy bool, log *zap.Logger) (*cluster, error) {
	c := &cluster{bin: bin, dir: dir, keys: filepath.Join(dir, "keys"), lay: lay, log: log}
	var names []string
	for _, n := range lay.nodes {
		names = append(names, n.name)
	}
	if _, err := runTool(ctx, bin, "init", "--dir", c.keys, "--nodes", strings.Join(names, ","), "--tls-hosts", "127.0.0.1,localhost"); err != nil {
		return nil, err
	}
	const per = 5 // client, route, http, gateway, leaf
	ports, err := freeport.Pick("127.0.0.1", per*len(names))
	if err != nil {
		return nil, err
	}
	at := func(i, k int) string { return fmt.Sprintf("127.0.0.1:%d", ports[per*i+k]) }
	for i, spec := range lay.nodes {
		c.nodes = append(c.nodes, &node{idx: i, name: spec.name, region: spec.region,
			clientURL: "nats://" + at(i, 0), listen: at(i, 1), httpAddr: at(i, 2), gwListen: at(i, 3), leaf: at(i, 4)})
	}
	if err := c.makeProxies(); err != nil {
		c.Close()
		return nil, err
	}
	for _, n := range c.nodes {
		if lazy {
			n.backing = filepath.Join(dir, "store-backing", n.name)
			if n.store, err = lazyfs.Mount(n.backing, filepath.Join(dir, "store", n.name)); err != nil {
				c.Close()
				return nil, err
			}
		}
		if err := c.writeConfig(n, sync); err != nil {
			c.Close()
			return nil, err
		}
		n.proc = newProc(n.name, bin, filepath.Join(dir, "logs", n.name+".log"), "node", "--config", n.config, "--log-level", "warn")
	}
	return c, nil
}

func (c *cluster) makeProxies() error {
	n := len(c.nodes)
	c.routes, c.gws = make([][]*Proxy, n), make([][]*Proxy, n)
	for i, from := range c.nodes {
		c.routes[i], c.gws[i] = make([]*Proxy, n), make([]*Proxy, n)
		for j, to := range c.nodes {
			var err error
			switch {
			case i == j:
			case from.region == to.region:
				c.routes[i][j], err = NewProxy(from.name+"→"+to.name, to.listen)
			default:
				c.gws[i][j], err = NewProxy("gateway "+from.name+"→"+to.name, to.gwListen)
			}
			if err != nil {
				return err
			}
		}
	}
	for _, nd := range c.nodes {
		p, err := NewProxy("advertised "+nd.name, nd.listen)
		if err != nil {
			return err
		}
		c.adverts = append(c.adverts, p)
		v, err := NewProxy("void "+nd.name, nd.leaf)
		if err != nil {
			return err
		}
		v.Cut()
		c.voids = append(c.voids, v)
	}
	return nil
}

// writeConfig writes node n's YAML: tocsin init's auth and TLS files, its
// routes and gateways through its proxies, the advertised proxy, and a
// leaf listener when the layout has sites.
func (c *cluster) writeConfig(n *node, sync string) error {
	nodeDir := filepath.Join(c.keys, "nodes", n.name)
	tlsFiles := func() *server.TLSConfig {
		return &server.TLSConfig{Cert: filepath.Join(nodeDir, "tls", "cert.pem"), Key: filepath.Join(nodeDir, "tls", "key.pem"), CA: filepath.Join(nodeDir, "tls", "ca.pem")}
	}
	var nc server.NodeConfig
	nc.Name = n.name
	nc.ClusterName = "tocsin-chaos"
	if n.region != "" {
		nc.ClusterName = n.region
	}
	nc.Listen = strings.TrimPrefix(n.clientURL, "nats://")
	nc.HTTP = n.httpAddr
	nc.StoreDir = filepath.Join(c.dir, "store", n.name)
	nc.SyncInterval = sync
	nc.Auth = nodeDir
	nc.ServiceCreds = filepath.Join(nodeDir, "service.creds")
	nc.TLS = tlsFiles()
	nc.Cluster.Listen = n.listen
	nc.Cluster.Advertise = c.adverts[n.idx].Addr()
	nc.Cluster.TLS = tlsFiles()
	for _, p := range c.routes[n.idx] {
		if p != nil {
			nc.Cluster.Routes = append(nc.Cluster.Routes, "nats-route://"+p.Addr())
		}
	}
	if c.lay.regions() {
		g := &server.GatewayConfig{Listen: n.gwListen, Advertise: c.voids[n.idx].Addr(), Regions: c.lay.sets, RegistryRegion: c.lay.registry, TLS: tlsFiles()}
		for _, r := range c.lay.regionNames() {
			if r == n.region {
				continue
			}
			remote := server.RemoteGatewayConfig{Name: r}
			for j, p := range c.gws[n.idx] {
				if p != nil && c.nodes[j].region == r {
					remote.URLs = append(remote.URLs, "nats://"+p.Addr())
				}
			}
			g.Gateways = append(g.Gateways, remote)
		}
		nc.Gateway = g
	}
	if c.lay.leaf {
		nc.Leaf = &server.LeafConfig{Listen: n.leaf, Advertise: c.voids[n.idx].Addr()}
	}
	data, err := yaml.Marshal(nc)
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Join(c.dir, "logs"), filepath.Join(c.dir, "configs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	n.config = filepath.Join(c.dir, "configs", n.name+".yaml")
	return os.WriteFile(n.config, data, 0o600)
}

// URLs are the client URLs of the nodes members use (not a witness's),
// comma-separated.
func (c *cluster) URLs() string { return c.URLsFrom("") }

// URLsFrom is URLs with region's nodes first: a member lists its home
// region's nodes and then the others', to fail over to (docs/REGIONS.md,
// "How a region's members fail over"). With "" (one cluster) the nodes are
// in order.
func (c *cluster) URLsFrom(region string) string {
	var first, rest []string
	for _, n := range c.memberNodes() {
		if n.region == region {
			first = append(first, n.clientURL)
		} else {
			rest = append(rest, n.clientURL)
		}
	}
	return strings.Join(append(first, rest...), ",")
}

// memberURLs are the URLs member connects to at the hub: its home
// region's nodes first.
func (c *cluster) memberURLs(member string) string { return c.URLsFrom(c.lay.homeOf(member)) }

// memberNodes are the nodes members connect to, every node but a
// witness's: in regions, the nodes of the regions with a stream set, the
// ones the node faults hit.
func (c *cluster) memberNodes() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.region != regionWitness {
			out = append(out, n)
		}
	}
	return out
}

// CA is the cluster CA's certificate, which clients trust.
func (c *cluster) CA() string { return filepath.Join(c.keys, "tls", "ca.pem") }

// AdminCreds are the first admin's credentials from tocsin init.
func (c *cluster) AdminCreds() string { return filepath.Join(c.keys, "admin.creds") }

// Start starts every node that is not running and waits until the
// cluster is healthy. In regions, the witness starts once the others are
// ready (degraded: no gateway to it yet), as a deploy may: it holds no
// stream set and provisions nothing.
func (c *cluster) Start(ctx context.Context) error {
	var witness []*node
	for _, n := range c.nodes {
		if n.region == regionWitness {
			witness = append(witness, n)
		} else if !n.proc.Running() {
			if err := n.proc.Start(); err != nil {
				return err
			}
		}
	}
	if len(witness) > 0 {
		// Degraded: they have no gateway to the witness yet.
		if err := c.waitReady(ctx, c.memberNodes(), true); err != nil {
			return err
		}
		for _, n := range witness {
			if !n.proc.Running() {
				if err := n.proc.Start(); err != nil {
					return err
				}
			}
		}
	}
	return c.WaitHealthy(ctx)
}

// Crashes lists node exits the harness did not cause.
func (c *cluster) Crashes() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.proc.Crashes()...)
	}
	return out
}

// Close kills every node and closes every proxy.
func (c *cluster) Close() {
	for _, n := range c.nodes {
		if n.proc != nil {
			n.proc.Cleanup()
		}
	}
	for _, row := range c.routes {
		for _, p := range row {
			if p != nil {
				p.Close()
			}
		}
	}
	for _, p := range append(c.adverts, c.voids...) {
		p.Close()
	}
	for _, row := range c.gws {
		for _, p := range row {
			if p != nil {
				p.Close()
			}
		}
	}
	for _, n := range c.nodes {
		if n.store != nil {
			_ = n.store.Unmount()
		}
	}
}

// proxies lists every route and gateway proxy (not the voids, which
// stay cut).
func (c *cluster) proxies() []*Proxy {
	out := append([]*Proxy(nil), c.adverts...)
	for _, row := range append(slices.Clone(c.routes), c.gws...) {
		for _, p := range row {
			if p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// SetLatency delays every route and gateway by d each way (0: none).
func (c *cluster) SetLatency(d time.Duration) {
	for _, p := range c.proxies() {
		p.SetLatency(d)
	}
}

// RollingRestart restarts the nodes one at a time (SIGTERM, start), each
// after the cluster is healthy again.
func (c *cluster) RollingRestart(ctx context.Context) error {
	for _, n := range c.nodes {
		if err := n.proc.Stop(ctx, 30*time.Second); err != nil {
			return err
		}
		if err := n.proc.Start(); err != nil {
			return err
		}
		hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := c.WaitHealthy(hctx)
		cancel()
		if err != nil {
			return fmt.Errorf("after restarting %s: %w", n.name, err)
		}
	}
	return nil
}
