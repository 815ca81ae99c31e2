package broker

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// Node is one embedded nats-server with JetStream. NewNode binds its
// listeners and returns once it accepts connections; Shutdown stops it and
// is safe to call more than once.
type Node struct {
	opts NodeOptions
	log  *zap.Logger
	srv  *server.Server

	mu       sync.Mutex
	fatalErr error
	fatal    chan struct{}

	formed    atomic.Bool   // the node met its peers, or its formation grace passed
	stopping  atomic.Bool   // the node, or its cluster, is shutting down
	stopWatch chan struct{} // closed by Shutdown: ends watchFormation

	shutdownOnce sync.Once
}

// NewNode validates opts, starts the node and waits until its listeners
// accept connections. On any failure nothing is left running. log may be
// nil (no logging).
func NewNode(opts NodeOptions, log *zap.Logger) (*Node, error) {
	if log == nil {
		log = zap.NewNop()
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	so, err := opts.serverOptions()
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("%w: node %q: %v", ErrInvalidOptions, opts.Name, err)
	}
	n := &Node{opts: opts, log: log.With(zap.String("node", opts.Name)), srv: srv, fatal: make(chan struct{}), stopWatch: make(chan struct{})}
	srv.SetLoggerV2(newServerLogger(n.log, n.setFatal, func() (bool, bool) { return !n.formed.Load(), n.stopping.Load() }), false, false, false)
	if opts.Standalone || len(opts.Routes) == 0 && opts.Gateway == nil {
		n.formed.Store(true)
	} else {
		go n.watchFormation(len(opts.Routes), opts.FormationGrace)
	}
	srv.Start()
	if err := n.waitListening(opts.ReadyTimeout); err != nil {
		n.Shutdown()
		return nil, err
	}
	n.log.Info("node listening", zap.String("client", n.ClientURL()), zap.String("cluster", n.ClusterURL()))
	return n, nil
}

func (n *Node) setFatal(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fatalErr == nil {
		n.fatalErr = err
		close(n.fatal)
	}
}

// Err returns the fatal error the server reported, if any.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatalErr
}

// Fatal is closed when the server reports a fatal error (see Err).
func (n *Node) Fatal() <-chan struct{} { return n.fatal }

func (n *Node) waitListening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := n.Err(); err != nil {
			return fmt.Errorf("node %q: %w; is another process using the port, or is the store directory locked?", n.opts.Name, err)
		}
		if n.srv.ReadyForConnections(20 * time.Millisecond) {
			// A fatal error can race with readiness (a route port in use
			// after the client port bound): give it a moment to surface.
			if !n.opts.Standalone && n.srv.ClusterAddr() == nil {
				continue
			}
			return n.Err()
		}
	}
	return fmt.Errorf("%w: node %q: listeners not up after %s", ErrNotReady, n.opts.Name, timeout)
}

// Name is the node's server name.
func (n *Node) Name() string { return n.opts.Name }

// Server is the embedded nats-server.
func (n *Node) Server() *server.Server { return n.srv }

// Options returns the node's options with defaults applied.
func (n *Node) Options() NodeOptions { return n.opts }

// ClientURL is the nats:// URL clients connect to.
func (n *Node) ClientURL() string {
	addr := n.srv.Addr()
	if addr == nil {
		return ""
	}
	return "nats://" + addr.String()
}

// ClientPort is the bound client port.
func (n *Node) ClientPort() int {
	if a, ok := n.srv.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// ClusterURL is the nats-route:// URL other nodes dial, or "" when standalone.
func (n *Node) ClusterURL() string {
	a := n.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	if n.opts.ClusterAdvertise != "" {
		return "nats-route://" + n.opts.ClusterAdvertise
	}
	return "nats-route://" + a.String()
}

// ClusterPort is the bound route port, or 0 when standalone.
func (n *Node) ClusterPort() int {
	if a := n.srv.ClusterAddr(); a != nil {
		return a.Port
	}
	return 0
}

// Shutdown stops the node: it closes client connections (clients that
// drain first finish their work), flushes JetStream and waits for the
// server to exit. Safe to call more than once.
func (n *Node) Shutdown() {
	n.shutdownOnce.Do(func() {
		n.stopping.Store(true)
		close(n.stopWatch)
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.log.Info("node stopped")
	})
}

// Running reports whether the node is up.
func (n *Node) Running() bool { return n.srv.Running() }

// WaitJetStream waits until this node has JetStream enabled and, when
// clustered, knows the meta leader.
func (n *Node) WaitJetStream(ctx context.Context) error {
	return poll(ctx, func() error {
		if !n.srv.JetStreamEnabled() {
			return fmt.Errorf("node %q: jetstream not enabled yet", n.opts.Name)
		}
		if n.srv.JetStreamIsClustered() && !n.srv.JetStreamIsCurrent() {
			return fmt.Errorf("node %q: jetstream meta group not current (no meta leader yet)", n.opts.Name)
		}
		return nil
	})
}

// serverOptions maps NodeOptions onto nats-server options.
func (o NodeOptions) serverOptions() (*server.Options, error) {
	so := &server.Options{
		ServerName:         o.Name,
		Host:               o.Host,
		Port:               o.Port,
		ClientAdvertise:    o.ClientAdvertise,
		MaxPayload:         o.MaxPayload,
		NoSigs:             true,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		JetStreamMaxMemory: o.MaxMemory,
		JetStreamMaxStore:  o.MaxStore,
		SyncInterval:       o.SyncInterval,
	}
	if so.JetStreamMaxMemory == 0 {
		so.JetStreamMaxMemory = -1
	}
	if so.JetStreamMaxStore == 0 {
		so.JetStreamMaxStore = -1
	}
	if o.SyncInterval == 0 {
		so.SyncAlways = true
		so.SyncInterval = NATSDefaultSyncInterval
	}
	if o.Auth != nil {
		if err := ApplyAuth(o.Auth, so, o.StoreDir, o.ResolverSync); err != nil {
			return nil, fmt.Errorf("%w: auth: %v", ErrInvalidOptions, err)
		}
	}
	if o.Leaf != nil {
		if err := o.applyLeaf(so); err != nil {
			return nil, err
		}
	}
	if o.Standalone {
		return so, o.applyTLS(so)
	}
	so.Cluster = server.ClusterOpts{
		Name:      o.ClusterName,
		Host:      o.ClusterHost,
		Port:      o.ClusterPort,
		Advertise: o.ClusterAdvertise,
	}
	if o.Auth != nil {
		so.Cluster.PoolSize = routePoolSize(o.Auth)
	}
	for _, r := range o.Routes {
		u, err := parseRoute(r)
		if err != nil {
			return nil, err
		}
		so.Routes = append(so.Routes, u)
	}
	if o.Gateway != nil {
		if err := o.applyGateway(so); err != nil {
			return nil, err
		}
	}
	return so, o.applyTLS(so)
}

// routeURL builds a route URL for a host and port.
func routeURL(host string, port int) string {
	return (&url.URL{Scheme: "nats-route", Host: net.JoinHostPort(host, strconv.Itoa(port))}).String()
}

// poll calls f every 25ms until it returns nil or ctx ends; the error then
// says what was still wrong.
func poll(ctx context.Context, f func() error) error {
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrNotReady, err)
		case <-t.C:
		}
	}
}
