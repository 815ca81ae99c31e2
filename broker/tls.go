package broker

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// MinTLSVersion is the oldest TLS version a node accepts, on client and
// route listeners alike.
const MinTLSVersion = tls.VersionTLS12

// DefaultTLSTimeout bounds a TLS handshake on a node's listeners.
const DefaultTLSTimeout = 2 * time.Second

// TLSOptions are the PEM files of one TLS listener (clients or routes).
type TLSOptions struct {
	// Cert is the node's certificate (PEM). Its SANs must name every
	// address clients or peers dial. Required.
	Cert string
	// Key is the certificate's private key (PEM). Required.
	Key string
	// CA is the certificate authority (PEM) that signed the peers'
	// certificates. Required for routes; for clients, only with Verify.
	CA string
	// Verify requires clients to present a certificate signed by CA (mutual
	// TLS) in addition to their credentials. Routes always verify. Default false.
	Verify bool
	// Timeout bounds the handshake. Default DefaultTLSTimeout.
	Timeout time.Duration
}

// check reports the first unusable file of t; field names it in errors.
func (t *TLSOptions) check(field string, route bool) error {
	if t.Cert == "" || t.Key == "" {
		return fmt.Errorf("%w: %s: cert and key are both required (PEM files)", ErrInvalidOptions, field)
	}
	if (route || t.Verify) && t.CA == "" {
		return fmt.Errorf("%w: %s.ca: required: the CA that signed the peers' certificates, so that only they can connect", ErrInvalidOptions, field)
	}
	_, err := t.config(route)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidOptions, field, err)
	}
	return nil
}

// config builds the tls.Config of a listener. A route listener requires and
// verifies the peer's certificate both ways: it is also the client config
// with which the node dials its routes.
func (t *TLSOptions) config(route bool) (*tls.Config, error) {
	cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: t.Cert, KeyFile: t.Key, CaFile: t.CA,
		Verify: t.Verify || route, MinVersion: MinTLSVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("%v; check the cert, key and ca files", err)
	}
	if t.CA != "" && cfg.ClientCAs == nil {
		return nil, fmt.Errorf("ca %q: unreadable", t.CA)
	}
	if err := checkLeaf(cfg); err != nil {
		return nil, fmt.Errorf("cert %q: %v", t.Cert, err)
	}
	if route {
		cfg.RootCAs = cfg.ClientCAs
	}
	return cfg, nil
}

// checkLeaf refuses a certificate that has expired or is not valid yet:
// the node would start, and every handshake would fail.
func checkLeaf(cfg *tls.Config) error {
	leaf := cfg.Certificates[0].Leaf
	now := time.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("valid from %s to %s, not now; issue a new certificate", leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	return nil
}

func (t *TLSOptions) timeout() float64 {
	if t.Timeout > 0 {
		return t.Timeout.Seconds()
	}
	return DefaultTLSTimeout.Seconds()
}

// applyTLS sets the client and route TLS of so from o.
func (o NodeOptions) applyTLS(so *server.Options) error {
	if o.TLS != nil {
		cfg, err := o.TLS.config(false)
		if err != nil {
			return fmt.Errorf("%w: tls: %v", ErrInvalidOptions, err)
		}
		so.TLSConfig, so.TLSTimeout, so.TLSVerify = cfg, o.TLS.timeout(), o.TLS.Verify
	}
	if o.ClusterTLS != nil && !o.Standalone {
		cfg, err := o.ClusterTLS.config(true)
		if err != nil {
			return fmt.Errorf("%w: cluster.tls: %v", ErrInvalidOptions, err)
		}
		so.Cluster.TLSConfig, so.Cluster.TLSTimeout = cfg, o.ClusterTLS.timeout()
	}
	return nil
}
