// Package server runs Tocsin: the embedded broker nodes, the services that
// run on every node (router, mutual aid, status) and the HTTP face (health,
// readiness, metrics). New binds every listener; Main blocks until the
// context ends or something fails; Exit stops everything and is safe to
// call more than once (the shape of nsq's nsqd).
package server

import (
	"fmt"
	"net"
	"time"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/mutualaid"
)

// Options configures a Tocsin server. Exactly one of Dev or Node is set.
type Options struct {
	// Dev runs a whole cluster inside this process (tocsin dev). Default nil.
	Dev *DevOptions
	// Node runs one node of a multi-machine cluster (tocsin node). Default nil.
	Node *broker.NodeOptions
	// HTTPAddr is where /healthz, /readyz, /status, /metrics, TAXII and the
	// console listen. Default 127.0.0.1:8080; "" with NoHTTP disables it.
	HTTPAddr string
	// NoHTTP disables the HTTP listener. Default false.
	NoHTTP bool
	// HTTPTLS serves HTTPS on HTTPAddr (TLS 1.2 or newer) with this
	// certificate and key; with Verify, clients must also present a
	// certificate signed by CA. Outside dev, TAXII and the console accept
	// credentials only over it. Default nil: plain HTTP.
	HTTPTLS *broker.TLSOptions
	// ReadyTimeout bounds how long Main waits for the cluster to become
	// ready (meta leader, streams current) before it gives up. Default 60s.
	ReadyTimeout time.Duration
	// ServiceCreds is the .creds file the node's own services connect with
	// (tocsin init writes it). Node mode with authentication only; a dev
	// cluster issues its own. Default "".
	ServiceCreds string
	// Router configures the router on every node. Default: alerts.Options{}.
	Router alerts.Options
	// Aid configures the mutual-aid service on every node. Default:
	// mutualaid.Options{}.
	Aid mutualaid.Options
	// OnReady, when set, is called once the cluster is ready. Default nil.
	OnReady func(*Server)
	// DrainTimeout bounds the drain of the server's own client connections
	// at shutdown. Default 5s.
	DrainTimeout time.Duration
}

// DevOptions configures the in-process development cluster.
type DevOptions struct {
	// DataDir holds every node's store, credentials and keys. Required.
	DataDir string
	// Nodes is the number of nodes. Default 3.
	Nodes int
	// Port is the first node's client port; the others use Port+1, Port+2.
	// Default 4222; broker.RandomPort picks free ports (tests).
	Port int
	// SyncInterval as in broker.NodeOptions; zero means always. Default 0.
	SyncInterval time.Duration
	// TLS requires TLS of clients and mutual TLS on routes, with a local CA
	// and certificate made in <DataDir>/tls (clients trust DevTLSCA).
	// Default false.
	TLS bool
	// LeafPort gives every node a leaf node listener for member sites
	// (docs/SITES.md): node i listens on LeafPort+i, and for sites over
	// WebSocket on 8443+i (shifted as LeafPort is from 7422);
	// broker.RandomPort picks free ports. Default 0: none.
	LeafPort int
}

func (o Options) withDefaults() Options {
	if o.HTTPAddr == "" && !o.NoHTTP {
		o.HTTPAddr = "127.0.0.1:8080"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 5 * time.Second
	}
	if o.Dev != nil {
		d := *o.Dev
		if d.Nodes == 0 {
			d.Nodes = 3
		}
		if d.Port == 0 {
			d.Port = broker.DefaultClientPort
		}
		o.Dev = &d
	}
	return o
}

func (o Options) validate() error {
	if (o.Dev == nil) == (o.Node == nil) {
		return fmt.Errorf("%w: set exactly one of dev or node", broker.ErrInvalidOptions)
	}
	if o.Dev != nil && o.Dev.DataDir == "" {
		return fmt.Errorf("%w: data: required; pass --data DIR", broker.ErrInvalidOptions)
	}
	if !o.NoHTTP {
		if _, _, err := net.SplitHostPort(o.HTTPAddr); err != nil {
			return fmt.Errorf("%w: http: %q is not HOST:PORT: %v", broker.ErrInvalidOptions, o.HTTPAddr, err)
		}
	}
	return nil
}
