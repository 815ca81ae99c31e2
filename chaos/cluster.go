package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	config    string
	clientURL string
	httpAddr  string
	listen    string // the real route listener, reached only through proxies
	proc      *proc
	// store is the node's store on a lazy file system (nil: a plain
	// directory); backing is the directory under it.
	store   *lazyfs.FS
	backing string
}

// cluster is three node processes on loopback, with auth and TLS from
// tocsin init, whose routes all run through proxies.
type cluster struct {
	bin, dir, keys string
	nodes          []*node
	// routes[i][j] carries node i's routes to node j.
	routes [][]*Proxy
	// adverts[j] is the address node j advertises to its peers.
	adverts []*Proxy
	log     *zap.Logger
}

// nodeCount is the size of the cluster: R3 streams.
const nodeCount = 3

// newCluster runs tocsin init in dir/keys and writes the nodes' configs;
// it starts nothing. With lazy, each node's store is a lazy file system
// (see package lazyfs) that a power loss can take unsynced writes from.
func newCluster(ctx context.Context, bin, dir, sync string, lazy bool, log *zap.Logger) (*cluster, error) {
	c := &cluster{bin: bin, dir: dir, keys: filepath.Join(dir, "keys"), log: log}
	names := make([]string, nodeCount)
	for i := range names {
		names[i] = fmt.Sprintf("chaos-%d", i+1)
	}
	if _, err := runTool(ctx, bin, "init", "--dir", c.keys, "--nodes", strings.Join(names, ","), "--tls-hosts", "127.0.0.1,localhost"); err != nil {
		return nil, err
	}
	ports, err := freeport.Pick("127.0.0.1", 3*nodeCount)
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		c.nodes = append(c.nodes, &node{idx: i, name: name,
			clientURL: fmt.Sprintf("nats://127.0.0.1:%d", ports[3*i]),
			listen:    fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			httpAddr:  fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
		})
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
	c.routes = make([][]*Proxy, nodeCount)
	for i := range c.nodes {
		c.routes[i] = make([]*Proxy, nodeCount)
		for j, to := range c.nodes {
			if i == j {
				continue
			}
			p, err := NewProxy(c.nodes[i].name+"→"+to.name, to.listen)
			if err != nil {
				return err
			}
			c.routes[i][j] = p
		}
	}
	for _, n := range c.nodes {
		p, err := NewProxy("advertised "+n.name, n.listen)
		if err != nil {
			return err
		}
		c.adverts = append(c.adverts, p)
	}
	return nil
}

// writeConfig writes node n's YAML: tocsin init's auth and TLS files, its
// routes through its proxies, the advertised proxy.
func (c *cluster) writeConfig(n *node, sync string) error {
	nodeDir := filepath.Join(c.keys, "nodes", n.name)
	tlsFiles := func() *server.TLSConfig {
		return &server.TLSConfig{Cert: filepath.Join(nodeDir, "tls", "cert.pem"), Key: filepath.Join(nodeDir, "tls", "key.pem"), CA: filepath.Join(nodeDir, "tls", "ca.pem")}
	}
	var nc server.NodeConfig
	nc.Name = n.name
	nc.ClusterName = "tocsin-chaos"
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
	for j, p := range c.routes[n.idx] {
		if j != n.idx {
			nc.Cluster.Routes = append(nc.Cluster.Routes, "nats-route://"+p.Addr())
		}
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

// URLs are the nodes' client URLs, comma-separated.
func (c *cluster) URLs() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, n.clientURL)
	}
	return strings.Join(urls, ",")
}

// CA is the cluster CA's certificate, which clients trust.
func (c *cluster) CA() string { return filepath.Join(c.keys, "tls", "ca.pem") }

// AdminCreds are the first admin's credentials from tocsin init.
func (c *cluster) AdminCreds() string { return filepath.Join(c.keys, "admin.creds") }

// Start starts every node that is not running and waits until the
// cluster is healthy.
func (c *cluster) Start(ctx context.Context) error {
	for _, n := range c.nodes {
		if !n.proc.Running() {
			if err := n.proc.Start(); err != nil {
				return err
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
	for _, p := range c.adverts {
		p.Close()
	}
	for _, n := range c.nodes {
		if n.store != nil {
			_ = n.store.Unmount()
		}
	}
}

// proxies lists every proxy.
func (c *cluster) proxies() []*Proxy {
	out := append([]*Proxy(nil), c.adverts...)
	for _, row := range c.routes {
		for _, p := range row {
			if p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// SetLatency delays every route by d each way (0: none).
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
