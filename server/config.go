package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/days"
)

// NodeConfig is the YAML file of `tocsin node --config FILE`. Required:
// name, store_dir, auth with service_creds (or insecure_no_auth), tls and,
// on a cluster, cluster.tls (or insecure_no_tls); http_tls serves the HTTP
// face over HTTPS. See deploy/ for a 3-machine example.
type NodeConfig struct {
	// Name is the node's unique server name. Required.
	Name string `yaml:"name"`
	// ClusterName is shared by every node. Default "tocsin".
	ClusterName string `yaml:"cluster_name"`
	// Listen is the client listener, HOST:PORT. Default 127.0.0.1:4222.
	Listen string `yaml:"listen"`
	// ClientAdvertise is the HOST:PORT clients are told to use. Default: listen.
	ClientAdvertise string `yaml:"client_advertise"`
	// Cluster configures the routes between nodes.
	Cluster struct {
		// Listen is the route listener, HOST:PORT. Default 127.0.0.1:6222.
		Listen string `yaml:"listen"`
		// Advertise is the HOST:PORT other nodes dial. Default: listen.
		Advertise string `yaml:"advertise"`
		// Routes are the other nodes' nats-route://HOST:PORT URLs.
		Routes []string `yaml:"routes"`
		// TLS is the routes' mutual TLS: only a node with a certificate
		// signed by its ca may join. Required on a cluster unless
		// insecure_no_tls.
		TLS *TLSConfig `yaml:"tls"`
	} `yaml:"cluster"`
	// StoreDir is this node's JetStream data directory. Required.
	StoreDir string `yaml:"store_dir"`
	// SyncInterval is "always" (the default) or a duration such as "2m".
	SyncInterval string `yaml:"sync_interval"`
	// ResolverSync is how often the node's account resolver compares its
	// account JWTs with another node's, a duration such as "10m" (the
	// default, broker.DefaultResolverSync): it bounds how long a node that
	// was down during a revocation keeps the old claims after it returns.
	ResolverSync string `yaml:"resolver_sync"`
	// HTTP is the listener of health, readiness, status, metrics, TAXII and
	// the console, HOST:PORT. Default 127.0.0.1:8080.
	HTTP string `yaml:"http"`
	// HTTPTLS serves HTTPS on the http address (TLS 1.2 or newer): TAXII
	// and the console accept credentials only over it. cert and key are
	// required: the node's tls files of tocsin init (their SANs are its
	// --tls-hosts; members trust its ca.pem), or a certificate of a CA your
	// browsers already trust. ca with verify also requires a client
	// certificate signed by ca. Default: plain HTTP, on which TAXII and the
	// console refuse every credential.
	HTTPTLS *TLSConfig `yaml:"http_tls"`
	// MaxPayload is the largest message in bytes. Default 1 MiB.
	MaxPayload int32 `yaml:"max_payload"`
	// Auth is the directory with this node's copy of the authority's public
	// part: operator.jwt, SYS.jwt, TOCSIN.jwt, accounts/ (tocsin init writes
	// it as nodes/<name>/). No seed is read. Required unless insecure_no_auth.
	Auth string `yaml:"auth"`
	// ServiceCreds is the .creds file this node's own services connect with
	// (tocsin init writes nodes/<name>/service.creds). Required with auth.
	ServiceCreds string `yaml:"service_creds"`
	// InsecureNoAuth runs the node without authentication: whoever reaches
	// the client port may read and write everything. For an isolated
	// experiment only. Default false.
	InsecureNoAuth bool `yaml:"insecure_no_auth"`
	// TLS is the client listener's TLS. Required unless insecure_no_tls.
	TLS *TLSConfig `yaml:"tls"`
	// Gateway joins this node's region (cluster_name) to the other regions
	// of a supercluster (docs/REGIONS.md). Default: none, one cluster.
	Gateway *GatewayConfig `yaml:"gateway"`
	// Leaf opens a leaf node listener for member sites (docs/SITES.md).
	// Default: none.
	Leaf *LeafConfig `yaml:"leaf"`
	// InsecureNoTLS runs the client and route listeners in plain text:
	// traffic is readable, and whoever reaches the route port joins the
	// cluster. For an isolated experiment only. Default false.
	InsecureNoTLS bool `yaml:"insecure_no_tls"`
}

// TLSConfig is one listener's TLS in a node config: PEM files.
type TLSConfig struct {
	// Cert is the node's certificate; its SANs name every address clients
	// or peers dial. Required.
	Cert string `yaml:"cert"`
	// Key is the certificate's private key. Required.
	Key string `yaml:"key"`
	// CA is the CA that signed the peers' certificates. Required for
	// cluster.tls, and for tls and http_tls with verify.
	CA string `yaml:"ca"`
	// Verify (tls and http_tls) also requires a client certificate signed by ca,
	// on top of the client's credentials. Routes always verify. Default false.
	Verify bool `yaml:"verify"`
}

func (t *TLSConfig) options() *broker.TLSOptions {
	if t == nil {
		return nil
	}
	return &broker.TLSOptions{Cert: t.Cert, Key: t.Key, CA: t.CA, Verify: t.Verify}
}

// LoadNodeConfig reads and checks a node's YAML config. Unknown fields are
// errors that name the field and line.
func LoadNodeConfig(path string) (Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Options{}, fmt.Errorf("%w: config: %v", broker.ErrInvalidOptions, err)
	}
	var c NodeConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Options{}, fmt.Errorf("%w: config %s: %v", broker.ErrInvalidOptions, path, cleanYAMLError(err))
	}
	return c.Options()
}

func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}

// Options converts the config into server options.
func (c NodeConfig) Options() (Options, error) {
	bad := func(field, format string, v ...any) (Options, error) {
		return Options{}, configErr(field, format, v...)
	}
	n := broker.NodeOptions{
		Name:             c.Name,
		ClusterName:      c.ClusterName,
		ClientAdvertise:  c.ClientAdvertise,
		ClusterAdvertise: c.Cluster.Advertise,
		Routes:           c.Cluster.Routes,
		StoreDir:         c.StoreDir,
		MaxPayload:       c.MaxPayload,
	}
	var err error
	if len(c.Cluster.Routes) == 0 && c.Gateway == nil {
		if c.Cluster.Listen != "" || c.Cluster.Advertise != "" || c.Cluster.TLS != nil {
			return bad("cluster.routes", "empty: list the other nodes' nats-route://HOST:PORT URLs, or remove the cluster section to run a single node")
		}
		n.Standalone = true
	}
	if c.Listen != "" {
		if n.Host, n.Port, err = splitHostPort(c.Listen); err != nil {
			return bad("listen", "%v", err)
		}
	}
	if c.Cluster.Listen != "" {
		if n.ClusterHost, n.ClusterPort, err = splitHostPort(c.Cluster.Listen); err != nil {
			return bad("cluster.listen", "%v", err)
		}
	}
	if n.SyncInterval, err = ParseSyncInterval(c.SyncInterval); err != nil {
		return bad("sync_interval", "%v", err)
	}
	if c.ResolverSync != "" {
		if n.ResolverSync, err = days.Parse(c.ResolverSync); err != nil || n.ResolverSync <= 0 {
			return bad("resolver_sync", "%q: use a positive duration such as 10m", c.ResolverSync)
		}
	}
	if n.Auth, err = c.security(); err != nil {
		return Options{}, err
	}
	n.TLS, n.ClusterTLS = c.TLS.options(), c.Cluster.TLS.options()
	if err := c.gatewayOptions(&n); err != nil {
		return Options{}, err
	}
	if err := c.leafOptions(&n); err != nil {
		return Options{}, err
	}
	o := Options{Node: &n, HTTPAddr: c.HTTP, ServiceCreds: c.ServiceCreds, HTTPTLS: c.HTTPTLS.options()}
	if o.HTTPTLS != nil {
		if _, err := httpsConfig(o.HTTPTLS, nil); err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

// ParseSyncInterval reads "always" (or "") as zero, the always-sync
// default, and anything else as a positive duration.
func ParseSyncInterval(s string) (time.Duration, error) {
	if s == "" || s == "always" {
		return 0, nil
	}
	d, err := days.Parse(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: use \"always\" or a positive duration such as 2m", s)
	}
	return d, nil
}

func splitHostPort(hp string) (string, int, error) {
	var host string
	var port int
	i := strings.LastIndex(hp, ":")
	if i < 0 {
		return "", 0, fmt.Errorf("%q is not HOST:PORT", hp)
	}
	host = strings.Trim(hp[:i], "[]")
	if _, err := fmt.Sscanf(hp[i+1:], "%d", &port); err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port %q is not a port number", hp, hp[i+1:])
	}
	return host, port, nil
}
