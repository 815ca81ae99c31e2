package broker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/internal/freeport"
)

// ClusterOptions configures an N-node cluster inside one process on one
// host (tocsin dev, tests). Each node has its own ports and store dir.
type ClusterOptions struct {
	// Nodes is the number of nodes. Default 3.
	Nodes int
	// NamePrefix names the nodes "<prefix>-1" .. "<prefix>-N". Default "tocsin".
	NamePrefix string
	// DataDir holds one store dir per node ("<DataDir>/<node name>"). Required.
	DataDir string
	// Host is the address every listener binds. Default 127.0.0.1.
	Host string
	// BasePort is the first node's client port; node i uses BasePort+i.
	// Default 4222; RandomPort gives every node a free port.
	BasePort int
	// BaseClusterPort is the first node's route port; node i uses
	// BaseClusterPort+i. Default BasePort+2000, or free ports when BasePort
	// is RandomPort.
	BaseClusterPort int
	// SyncInterval is every node's JetStream fsync interval; zero means
	// always (see NodeOptions.SyncInterval).
	SyncInterval time.Duration
	// Configure, when set, adjusts each node's options before it starts
	// (auth, TLS, limits). Default nil.
	Configure func(i int, o *NodeOptions)
}

// Cluster is a set of nodes forming one NATS cluster in this process.
type Cluster struct {
	opts ClusterOptions
	log  *zap.Logger

	mu    sync.Mutex
	nodes []*Node
	specs []NodeOptions // the options each node was started with, ports fixed
	ports []int         // free ports picked for RandomPort: client, route per node
}

func (o ClusterOptions) withDefaults() ClusterOptions {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.NamePrefix == "" {
		o.NamePrefix = "tocsin"
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.BasePort == 0 {
		o.BasePort = DefaultClientPort
	}
	if o.BaseClusterPort == 0 {
		if o.BasePort == RandomPort {
			o.BaseClusterPort = RandomPort
		} else {
			o.BaseClusterPort = o.BasePort + 2000
		}
	}
	return o
}

// StartCluster starts every node and waits until the cluster has a
// JetStream meta leader. On failure every node already started is stopped.
func StartCluster(ctx context.Context, opts ClusterOptions, log *zap.Logger) (*Cluster, error) {
	if log == nil {
		log = zap.NewNop()
	}
	opts = opts.withDefaults()
	if opts.Nodes < 1 || opts.Nodes > 9 {
		return nil, fmt.Errorf("%w: nodes: %d; use 1 to 9 nodes in one process", ErrInvalidOptions, opts.Nodes)
	}
	if opts.DataDir == "" {
		return nil, fmt.Errorf("%w: data dir: required", ErrInvalidOptions)
	}
	c := &Cluster{opts: opts, log: log}
	if opts.BasePort == RandomPort || opts.BaseClusterPort == RandomPort {
		ports, err := freeport.Pick(opts.Host, 2*opts.Nodes)
		if err != nil {
			return nil, err
		}
		c.ports = ports
	}
	for i := 0; i < opts.Nodes; i++ {
		spec := c.nodeSpec(i)
		n, err := NewNode(spec, log)
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		c.mu.Lock()
		c.nodes = append(c.nodes, n)
		c.specs = append(c.specs, spec)
		c.mu.Unlock()
	}
	if err := c.WaitMeta(ctx); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// nodeSpec builds node i's options: its ports, its store dir and a route
// to every other node.
func (c *Cluster) nodeSpec(i int) NodeOptions {
	o := c.opts
	name := fmt.Sprintf("%s-%d", o.NamePrefix, i+1)
	spec := NodeOptions{
		Name:         name,
		Host:         o.Host,
		Port:         o.BasePort,
		ClusterPort:  o.BaseClusterPort,
		StoreDir:     filepath.Join(o.DataDir, name),
		SyncInterval: o.SyncInterval,
		Standalone:   o.Nodes == 1,
	}
	spec.Port = o.BasePort + i
	spec.ClusterPort = o.BaseClusterPort + i
	if c.ports != nil {
		spec.Port, spec.ClusterPort = c.ports[2*i], c.ports[2*i+1]
	}
	for j := 0; j < o.Nodes; j++ {
		if j == i {
			continue
		}
		port := o.BaseClusterPort + j
		if c.ports != nil {
			port = c.ports[2*j+1]
		}
		spec.Routes = append(spec.Routes, routeURL(o.Host, port))
	}
	if spec.Standalone {
		spec.Routes = nil
	}
	if o.Configure != nil {
		o.Configure(i, &spec)
	}
	return spec
}

// Nodes returns the nodes, stopped ones included.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Node returns node i.
func (c *Cluster) Node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// ClientURLs returns every node's client URL, comma-joinable for nats.Connect.
func (c *Cluster) ClientURLs() []string {
	var urls []string
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.specs {
		urls = append(urls, fmt.Sprintf("nats://%s:%d", s.Host, s.Port))
	}
	return urls
}

// ClientURL is every node's client URL joined with commas.
func (c *Cluster) ClientURL() string { return strings.Join(c.ClientURLs(), ",") }

// Replicas is the replica count streams get on this cluster: 3 when it has
// 3 or more nodes, else the node count.
func (c *Cluster) Replicas() int { return min(3, c.opts.Nodes) }

// StopNode shuts node i down (its data stays on disk).
func (c *Cluster) StopNode(i int) {
	c.Node(i).Shutdown()
}

// RestartNode starts node i again on the same ports and store dir, routing
// to every other node.
func (c *Cluster) RestartNode(i int) error {
	c.mu.Lock()
	spec := c.specs[i]
	spec.Routes = nil
	for j, s := range c.specs {
		if j != i && !spec.Standalone {
			spec.Routes = append(spec.Routes, routeURL(s.Host, s.ClusterPort))
		}
	}
	c.mu.Unlock()
	n, err := NewNode(spec, c.log)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes[i] = n
	c.mu.Unlock()
	return nil
}

// Shutdown stops every node. Safe to call more than once.
//
// Every node is marked stopping first, so that what the ones still running
// log about the ones gone (a route lost and dialled again) is logged as the
// normal end it is.
func (c *Cluster) Shutdown() {
	for _, n := range c.Nodes() {
		n.stopping.Store(true)
	}
	for _, n := range c.Nodes() {
		n.Shutdown()
	}
}

// WaitMeta waits until some running node is the JetStream meta leader and
// every running node is current with it.
func (c *Cluster) WaitMeta(ctx context.Context) error {
	return poll(ctx, func() error { return metaCurrent(c.Nodes()) })
}

// metaCurrent reports what keeps the running nodes from having a JetStream
// meta leader that each of them is current with; nil when nothing does.
func metaCurrent(nodes []*Node) error {
	leader := ""
	for _, n := range nodes {
		if !n.Running() {
			continue
		}
		if err := n.Err(); err != nil {
			return err
		}
		if !n.srv.JetStreamIsCurrent() {
			return fmt.Errorf("node %q is not current with the jetstream meta group", n.Name())
		}
		if n.srv.JetStreamIsLeader() || !n.srv.JetStreamIsClustered() {
			leader = n.Name()
		}
	}
	if leader == "" {
		return errors.New("no jetstream meta leader yet")
	}
	return nil
}

// WaitStreams waits until every named stream of account has a leader and
// is current on every running node that holds a replica of it.
func (c *Cluster) WaitStreams(ctx context.Context, account string, streams []string) error {
	return poll(ctx, func() error { return c.StreamsCurrent(account, streams) })
}

// StreamsCurrent reports the first stream that has no leader, or is not
// current on a running node that holds a replica of it; nil when all are.
func (c *Cluster) StreamsCurrent(account string, streams []string) error {
	return streamsCurrent(c.Nodes(), account, streams)
}

// NodeStreamsCurrent is StreamsCurrent as one node of a real cluster sees
// it: each stream has a leader somewhere and is current here if held here.
func NodeStreamsCurrent(n *Node, account string, streams []string) error {
	srv := n.Server()
	for _, st := range streams {
		if srv.JetStreamIsStreamAssigned(account, st) && !srv.JetStreamIsStreamCurrent(account, st) {
			return fmt.Errorf("stream %s is not current on node %q (no leader yet, or catching up)", st, n.Name())
		}
	}
	return nil
}

func streamsCurrent(nodes []*Node, account string, streams []string) error {
	for _, st := range streams {
		hasLeader := false
		for _, n := range nodes {
			if !n.Running() {
				continue
			}
			srv := n.srv
			if !srv.JetStreamIsClustered() {
				hasLeader = true
				continue
			}
			if srv.JetStreamIsStreamLeader(account, st) {
				hasLeader = true
			}
			if srv.JetStreamIsStreamAssigned(account, st) && !srv.JetStreamIsStreamCurrent(account, st) {
				return fmt.Errorf("stream %s is not current on node %q", st, n.Name())
			}
		}
		if !hasLeader {
			return fmt.Errorf("stream %s has no leader", st)
		}
	}
	return nil
}
