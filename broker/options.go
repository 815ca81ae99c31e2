package broker

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/tocsin-project/tocsin/auth"
)

// Defaults for NodeOptions.
const (
	// DefaultClusterName is the NATS cluster name of a Tocsin cluster.
	DefaultClusterName = "tocsin"
	// DefaultHost is where listeners bind unless told otherwise: loopback.
	DefaultHost = "127.0.0.1"
	// DefaultClientPort is the NATS client port.
	DefaultClientPort = 4222
	// DefaultClusterPort is the NATS route port.
	DefaultClusterPort = 6222
	// DefaultMaxPayload is the largest message the server accepts (1 MiB).
	DefaultMaxPayload = 1 << 20
	// NATSDefaultSyncInterval is nats-server's own default fsync interval.
	// Tocsin does not use it unless told to: see NodeOptions.SyncInterval.
	NATSDefaultSyncInterval = 2 * time.Minute
	// RandomPort asks the operating system for a free port (for tests).
	RandomPort = -1
)

// NodeOptions configures one embedded nats-server node. The zero value of
// every field but Name and StoreDir is a usable default.
type NodeOptions struct {
	// Name is the node's server name, unique in the cluster ("tocsin-1").
	// Required.
	Name string
	// ClusterName is the NATS cluster name every node shares. Default "tocsin".
	ClusterName string
	// Host is the address the client listener binds. Default 127.0.0.1.
	Host string
	// Port is the client port. Default 4222; RandomPort (-1) picks a free one.
	Port int
	// ClusterHost is the address the route listener binds. Default Host.
	ClusterHost string
	// ClusterPort is the route port. Default 6222; RandomPort picks a free one.
	// Zero with no Routes and Standalone set runs without clustering.
	ClusterPort int
	// ClusterAdvertise is the host:port other nodes dial for routes, when it
	// differs from the bound address (NAT, a proxy). Default: the bound address.
	ClusterAdvertise string
	// ClientAdvertise is the host:port clients are told to use. Default: bound.
	ClientAdvertise string
	// Routes are the other nodes' route URLs ("nats-route://10.0.0.2:6222").
	// Unreachable peers are retried forever: that is how a cluster heals.
	Routes []string
	// Standalone runs a single node without a route listener.
	// Default false.
	Standalone bool
	// StoreDir is where JetStream keeps this node's data. Required; it is
	// created if missing and must be writable.
	StoreDir string
	// SyncInterval is how often JetStream fsyncs its files. Zero, the
	// default, means "always": every write is flushed before it is
	// acknowledged (Jepsen lost acknowledged writes with NATS's 2-minute
	// default on coordinated crashes). NATSDefaultSyncInterval restores
	// nats-server's behaviour.
	SyncInterval time.Duration
	// MaxMemory caps JetStream memory storage in bytes. Default: server's.
	MaxMemory int64
	// MaxStore caps JetStream file storage in bytes. Default: server's.
	MaxStore int64
	// MaxPayload is the largest message in bytes. Default 1 MiB.
	MaxPayload int32
	// ReadyTimeout bounds how long NewNode waits for the listeners.
	// Default 10s.
	ReadyTimeout time.Duration
	// FormationGrace bounds the node's formation: until it has a route to
	// each of Routes and JetStream is current, the route dial errors and
	// waiting warnings nats-server logs before every peer listens are
	// logged at info level; past the grace a node still missing peers warns
	// once, and they are errors again. Default 30s (DefaultFormationGrace).
	FormationGrace time.Duration
	// Auth turns on operator-mode authentication and authorization: the
	// operator JWT, the system account, the account JWTs to preload and the
	// resolver directory (default "jwt" inside StoreDir). nil = no
	// authentication (default): anyone who reaches the port may do anything.
	Auth *auth.ServerAuth
	// ResolverSync is how often, with Auth, the node's account resolver
	// compares its account JWTs with another node's; when they differ that
	// node sends all of its JWTs (see ApplyAuth). It bounds how long a node
	// that was down during a push (a revocation) keeps the old claims
	// after it returns. Default DefaultResolverSync (10 min); nats-server's
	// own is 1 min.
	ResolverSync time.Duration
	// TLS requires TLS (MinTLSVersion or newer) of every client. nil = plain
	// text (default): credentials still authenticate, but traffic is readable.
	TLS *TLSOptions
	// ClusterTLS requires mutual TLS on routes: a peer must present a
	// certificate signed by ClusterTLS.CA to join. nil = routes in plain
	// text without authentication (default): whoever reaches the route port
	// joins the cluster.
	ClusterTLS *TLSOptions
	// Gateway joins this node's cluster, a region named ClusterName, to
	// other regions through NATS gateways (a supercluster, docs/REGIONS.md).
	// nil = a single-cluster deployment (default).
	Gateway *GatewayOptions
	// Leaf opens a leaf node listener for member sites and gives JetStream
	// the hub's domain (docs/SITES.md). nil = no leaf listener (default).
	Leaf *LeafOptions
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// withDefaults returns a copy of o with every unset field defaulted.
func (o NodeOptions) withDefaults() NodeOptions {
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Port == 0 {
		o.Port = DefaultClientPort
	}
	if o.ClusterHost == "" {
		o.ClusterHost = o.Host
	}
	if o.ClusterPort == 0 && !o.Standalone {
		o.ClusterPort = DefaultClusterPort
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 10 * time.Second
	}
	if o.ResolverSync == 0 {
		o.ResolverSync = DefaultResolverSync
	}
	if o.FormationGrace == 0 {
		o.FormationGrace = DefaultFormationGrace
	}
	if o.Gateway != nil {
		g := o.Gateway.withDefaults(o)
		o.Gateway = &g
	}
	if o.Leaf != nil {
		l := o.Leaf.withDefaults(o)
		o.Leaf = &l
	}
	return o
}

// validate checks o (already defaulted) and names the field at fault.
func (o NodeOptions) validate() error {
	bad := func(field, format string, v ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, v...))
	}
	if !nameRE.MatchString(o.Name) {
		return bad("name", "%q is not a valid node name; use letters, digits, '-' or '_' (for example \"tocsin-1\")", o.Name)
	}
	if !nameRE.MatchString(o.ClusterName) {
		return bad("cluster_name", "%q is not a valid cluster name", o.ClusterName)
	}
	if err := checkPort(o.Port); err != nil {
		return bad("port", "%v", err)
	}
	if !o.Standalone {
		if err := checkPort(o.ClusterPort); err != nil {
			return bad("cluster_port", "%v", err)
		}
	}
	for _, h := range []struct{ field, host string }{{"host", o.Host}, {"cluster_host", o.ClusterHost}} {
		if net.ParseIP(h.host) == nil && h.host != "localhost" && h.host != "0.0.0.0" {
			if _, err := net.LookupHost(h.host); err != nil {
				return bad(h.field, "cannot resolve %q: %v; use an IP address of this machine", h.host, err)
			}
		}
	}
	for i, r := range o.Routes {
		if _, err := parseRoute(r); err != nil {
			return bad(fmt.Sprintf("routes[%d]", i), "%v", err)
		}
	}
	if o.Standalone && len(o.Routes) > 0 {
		return bad("routes", "a standalone node has no routes; remove them or set standalone: false")
	}
	if o.SyncInterval < 0 {
		return bad("sync_interval", "must be \"always\" or a positive duration such as 2m")
	}
	if o.ResolverSync < 0 {
		return bad("resolver_sync", "%v is negative; give a positive duration such as 10m", o.ResolverSync)
	}
	if o.MaxPayload < 1024 || o.MaxPayload > 64<<20 {
		return bad("max_payload", "%d bytes is out of range; use 1 KiB to 64 MiB", o.MaxPayload)
	}
	if err := checkStoreDir(o.StoreDir); err != nil {
		return bad("store_dir", "%v", err)
	}
	if o.Auth != nil {
		if err := o.Auth.Validate(); err != nil {
			return bad("auth", "%v", err)
		}
	}
	if o.TLS != nil {
		if err := o.TLS.check("tls", false); err != nil {
			return err
		}
	}
	if o.ClusterTLS != nil && !o.Standalone {
		if err := o.ClusterTLS.check("cluster.tls", true); err != nil {
			return err
		}
	}
	if o.Leaf != nil {
		if err := o.Leaf.validate(o); err != nil {
			return err
		}
	}
	if o.Gateway != nil {
		return o.Gateway.validate(o)
	}
	return nil
}

func checkPort(p int) error {
	if p == RandomPort || (p > 0 && p < 65536) {
		return nil
	}
	return fmt.Errorf("%d is not a port; use 1-65535 (or -1 for any free port)", p)
}

// parseRoute parses a route URL and resolves its host, so that a typo fails
// at start rather than being retried forever.
func parseRoute(r string) (*url.URL, error) {
	return parseHostURL(r, "route", "nats-route", "nats", "tls")
}

// parseHostURL parses a URL of one of schemes (the first is the one error
// messages suggest) and resolves its host; what names the URL's use.
func parseHostURL(s, what string, schemes ...string) (*url.URL, error) {
	hint := fmt.Sprintf("write %s://HOST:PORT", schemes[0])
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a %s URL; %s", s, what, hint)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return nil, fmt.Errorf("%q: scheme %q is not a %s scheme; %s", s, u.Scheme, what, hint)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("%q: %v; %s", s, err, hint)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, fmt.Errorf("%q: port %q is not a port number", s, port)
	}
	if net.ParseIP(host) == nil {
		if _, err := net.LookupHost(host); err != nil {
			return nil, fmt.Errorf("%q: cannot resolve host %q: %v", s, host, err)
		}
	}
	return u, nil
}

// checkStoreDir creates dir if missing and proves it is writable.
func checkStoreDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("required: a directory for this node's JetStream data")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %q: %v; choose a directory this user can write", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("%q is not writable: %v; fix its permissions or choose another directory", dir, err)
	}
	name := probe.Name()
	probe.Close()
	return os.Remove(name)
}
