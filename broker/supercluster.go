package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/internal/freeport"
)

// RegionSpec is one region of an in-process supercluster.
type RegionSpec struct {
	// Name is the region's cluster and gateway name; its nodes are
	// "<Name>-1" .. "<Name>-N". Required.
	Name string
	// Nodes is the region's node count, 1 to 9. Default 3.
	Nodes int
}

// SuperclusterOptions configures regions joined by gateways inside one
// process on one host, every listener on a free port (tests, chaos).
type SuperclusterOptions struct {
	// Regions are the clusters to join. Required, at least two.
	Regions []RegionSpec
	// DataDir holds one store dir per node ("<DataDir>/<node name>"). Required.
	DataDir string
	// Host is the address every listener binds. Default 127.0.0.1.
	Host string
	// StreamsRegion is every node's GatewayOptions.StreamsRegion. Default:
	// the first region.
	StreamsRegion string
	// Configure, when set, adjusts each node's options before it starts
	// (auth, TLS, gateway TLS). Default nil.
	Configure func(region string, i int, o *NodeOptions)
}

// Supercluster is regions of nodes joined by gateways in this process.
type Supercluster struct {
	log     *zap.Logger
	regions []string
	nodes   map[string][]*Node
	specs   map[string][]NodeOptions // the options each node was started with
}

// StartSupercluster starts every node of every region, each with routes to
// its region's other nodes and a gateway to every other region, and waits
// until the supercluster has one JetStream meta leader that every node is
// current with. On failure every node already started is stopped.
func StartSupercluster(ctx context.Context, opts SuperclusterOptions, log *zap.Logger) (*Supercluster, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if len(opts.Regions) < 2 || opts.DataDir == "" {
		return nil, fmt.Errorf("%w: supercluster: two regions or more and a data dir are required", ErrInvalidOptions)
	}
	if opts.StreamsRegion == "" {
		opts.StreamsRegion = opts.Regions[0].Name
	}
	total := 0
	for i := range opts.Regions {
		if opts.Regions[i].Nodes == 0 {
			opts.Regions[i].Nodes = 3
		}
		if n := opts.Regions[i].Nodes; n < 1 || n > 9 {
			return nil, fmt.Errorf("%w: region %s: %d nodes; use 1 to 9", ErrInvalidOptions, opts.Regions[i].Name, n)
		}
		total += opts.Regions[i].Nodes
	}
	ports, err := freeport.Pick(opts.Host, 3*total)
	if err != nil {
		return nil, err
	}
	// Node k of the supercluster (regions in order) has client, route and
	// gateway ports ports[3k], ports[3k+1], ports[3k+2].
	first := map[string]int{}
	k := 0
	for _, r := range opts.Regions {
		first[r.Name] = k
		k += r.Nodes
	}
	sc := &Supercluster{log: log, nodes: map[string][]*Node{}, specs: map[string][]NodeOptions{}}
	for _, r := range opts.Regions {
		sc.regions = append(sc.regions, r.Name)
		for i := 0; i < r.Nodes; i++ {
			k := first[r.Name] + i
			name := fmt.Sprintf("%s-%d", r.Name, i+1)
			spec := NodeOptions{
				Name: name, ClusterName: r.Name, Host: opts.Host,
				Port: ports[3*k], ClusterPort: ports[3*k+1],
				StoreDir: filepath.Join(opts.DataDir, name),
				Gateway:  &GatewayOptions{Port: ports[3*k+2], StreamsRegion: opts.StreamsRegion},
			}
			for j := 0; j < r.Nodes; j++ {
				if j != i {
					spec.Routes = append(spec.Routes, routeURL(opts.Host, ports[3*(first[r.Name]+j)+1]))
				}
			}
			for _, o := range opts.Regions {
				if o.Name == r.Name {
					continue
				}
				rg := RemoteGateway{Name: o.Name}
				for j := 0; j < o.Nodes; j++ {
					rg.URLs = append(rg.URLs, fmt.Sprintf("nats://%s:%d", opts.Host, ports[3*(first[o.Name]+j)+2]))
				}
				spec.Gateway.Remotes = append(spec.Gateway.Remotes, rg)
			}
			if opts.Configure != nil {
				opts.Configure(r.Name, i, &spec)
			}
			n, err := NewNode(spec, log)
			if err != nil {
				sc.Shutdown()
				return nil, err
			}
			sc.nodes[r.Name] = append(sc.nodes[r.Name], n)
			sc.specs[r.Name] = append(sc.specs[r.Name], spec)
		}
	}
	if err := sc.WaitMeta(ctx); err != nil {
		sc.Shutdown()
		return nil, err
	}
	return sc, nil
}

// Region returns the nodes of a region, stopped ones included.
func (sc *Supercluster) Region(name string) []*Node { return sc.nodes[name] }

// ClientURL is a region's client URLs joined with commas.
func (sc *Supercluster) ClientURL(region string) string {
	var urls []string
	for _, n := range sc.nodes[region] {
		urls = append(urls, fmt.Sprintf("nats://%s:%d", n.opts.Host, n.opts.Port))
	}
	return strings.Join(urls, ",")
}

// StopRegion shuts every node of a region down at once, as a region's loss
// does (their data stays on disk).
func (sc *Supercluster) StopRegion(name string) {
	for _, n := range sc.nodes[name] {
		n.stopping.Store(true)
	}
	for _, n := range sc.nodes[name] {
		n.Shutdown()
	}
}

// RestartRegion starts every node of a stopped region again, on the same
// ports and store dirs, as a region coming back does.
func (sc *Supercluster) RestartRegion(name string) error {
	for i, spec := range sc.specs[name] {
		n, err := NewNode(spec, sc.log)
		if err != nil {
			return err
		}
		sc.nodes[name][i] = n
	}
	return nil
}

// Shutdown stops every node of every region. Safe to call more than once.
func (sc *Supercluster) Shutdown() {
	for _, r := range sc.regions {
		sc.StopRegion(r)
	}
}

func (sc *Supercluster) all() []*Node {
	var all []*Node
	for _, r := range sc.regions {
		all = append(all, sc.nodes[r]...)
	}
	return all
}

// WaitMeta waits until the running nodes of every region have one
// JetStream meta leader between them and are current with it, and each
// has an outbound gateway to every other region that has a node running.
func (sc *Supercluster) WaitMeta(ctx context.Context) error {
	return poll(ctx, func() error {
		if err := metaCurrent(sc.all()); err != nil {
			return err
		}
		for _, n := range sc.all() {
			for _, r := range sc.regions {
				if n.Running() && r != n.Region() && sc.running(r) && !sc.hasGateway(n, r) {
					return fmt.Errorf("node %q has no gateway to region %s yet", n.Name(), r)
				}
			}
		}
		return nil
	})
}

func (sc *Supercluster) running(region string) bool {
	for _, n := range sc.nodes[region] {
		if n.Running() {
			return true
		}
	}
	return false
}

func (sc *Supercluster) hasGateway(n *Node, region string) bool {
	gz, err := n.srv.Gatewayz(nil)
	if err != nil {
		return false
	}
	_, ok := gz.OutboundGateways[region]
	return ok
}
