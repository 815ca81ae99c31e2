// Package site is a member site (`tocsin site`, docs/SITES.md): one
// embedded nats-server at the member's premises, a leaf node of the hub in
// the member's account, with a JetStream domain of its own. In: its
// SECTORS, INBOX and REJECTIONS streams source, durably (ADR-60), from the
// hub's consumers of the member's own routed copies, inbox and rejections,
// so that the member's agent reads them at the site through a WAN cut. Out:
// what the member sends at the site is stored in OUTBOX and forwarded to
// the hub once the link is up, each message once.
package site

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
)

// Site is a running member site.
type Site struct {
	opts Options
	id   identity
	name string
	log  *zap.Logger
	srv  *server.Server

	nc *nats.Conn
	js jetstream.JetStream

	pre         prefetches
	dirCache    directoryCache
	linkUp      atomic.Bool
	prefetching atomic.Bool
	linkMu      sync.Mutex
	linkSince   time.Time
	// linkGen counts the link's transitions; srcMu guards attached, which
	// in-streams have their source attached (sources.go).
	linkGen    atomic.Uint64
	srcMu      sync.Mutex
	attached   map[string]bool
	gapsFilled atomic.Int64
	// outboxFill is the share of the outbox's cap in use as checkOutbox
	// last read it (math.Float64bits), sent with each forwarded message.
	outboxFill atomic.Uint64

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	exitOnce sync.Once
	done     chan struct{}
}

// New validates opts, starts the site's server, dials the hub and sets up
// its streams. It returns once the local listener accepts connections; the
// hub may still be unreachable (the link comes up by itself).
func New(ctx context.Context, opts Options) (*Site, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	id, err := readIdentity(opts.Creds)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: data: %v", ErrInvalidOptions, err)
	}
	name, err := serverName(opts.DataDir, id.member)
	if err != nil {
		return nil, err
	}
	so, err := serverOptions(opts, id, name)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	s := &Site{opts: opts, id: id, name: name, log: opts.Log.With(zap.String("site", name)), srv: srv, done: make(chan struct{}), attached: map[string]bool{}}
	srv.SetLoggerV2(serverLog{s.log.Named("nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("site %s: the local listener %s did not start within 10s", name, opts.Listen)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.connect(); err != nil {
		s.Exit()
		return nil, err
	}
	if err := s.ensureStreams(ctx); err != nil {
		s.Exit()
		return nil, err
	}
	if err := s.ensureCache(ctx); err != nil {
		s.Exit()
		return nil, err
	}
	if err := s.serveRelays(); err != nil {
		s.Exit()
		return nil, err
	}
	if err := s.serveStatus(); err != nil {
		s.Exit()
		return nil, err
	}
	s.wg.Add(2)
	go s.watchLink()
	go s.forward()
	s.log.Info("site started", zap.String("member", id.member), zap.String("domain", Domain(id.member)), zap.String("listen", s.ClientURL()))
	return s, nil
}

// Domain is the JetStream domain of member's site.
func Domain(member string) string { return "site-" + member }

// serverOptions are the site's nats-server options: a standalone server,
// JetStream in the site's domain fsyncing every write, one leaf remote to
// the hub with the site credential.
func serverOptions(o Options, id identity, name string) (*server.Options, error) {
	host, port, _ := net.SplitHostPort(o.Listen)
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("%w: listen %q: port %q is not a number", ErrInvalidOptions, o.Listen, port)
	}
	urls, err := o.leafURLs()
	if err != nil {
		return nil, err
	}
	remote := &server.RemoteLeafOpts{URLs: urls, Credentials: o.Creds}
	if o.Proxy != "" {
		u, _ := url.Parse(o.Proxy)
		if u.User != nil {
			remote.Proxy.Username = u.User.Username()
			remote.Proxy.Password, _ = u.User.Password()
			u.User = nil
		}
		remote.Proxy.URL = u.String()
	}
	if o.CA != "" || urls[0].Scheme == "tls" || urls[0].Scheme == "wss" {
		remote.TLS = true
		remote.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.CA != "" {
			pem, err := os.ReadFile(o.CA)
			if err != nil {
				return nil, fmt.Errorf("%w: ca: %v", ErrInvalidOptions, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: ca %s: no PEM certificate in it", ErrInvalidOptions, o.CA)
			}
			remote.TLSConfig.RootCAs = pool
		}
	}
	return &server.Options{
		ServerName:         name,
		Host:               host,
		Port:               p,
		NoSigs:             true,
		JetStream:          true,
		JetStreamDomain:    Domain(id.member),
		StoreDir:           filepath.Join(o.DataDir, "jetstream"),
		JetStreamMaxMemory: -1,
		JetStreamMaxStore:  -1,
		SyncAlways:         true,
		SyncInterval:       2 * time.Minute,
		MaxPayload:         1 << 20,
		LeafNode:           server.LeafNodeOpts{ReconnectInterval: time.Second, Remotes: []*server.RemoteLeafOpts{remote}},
	}, nil
}

// connect opens the site's own in-process connection (its inbox prefix is
// the one the site credential may receive replies on at the hub).
func (s *Site) connect() error {
	nc, err := nats.Connect("", nats.InProcessServer(s.srv), nats.Name(s.name), nats.MaxReconnects(-1),
		nats.CustomInboxPrefix(auth.SiteInboxPrefix(s.id.member)))
	if err != nil {
		return fmt.Errorf("site %s: connect to its own server: %w", s.name, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	s.nc, s.js = nc, js
	return nil
}

// ClientURL is the URL the member's agent and CLI connect to.
func (s *Site) ClientURL() string {
	if a := s.srv.Addr(); a != nil {
		return "nats://" + a.String()
	}
	return ""
}

// Member is the member the site belongs to.
func (s *Site) Member() string { return s.id.member }

// Name is the site's server name.
func (s *Site) Name() string { return s.name }

// Server is the embedded nats-server (for tests and status).
func (s *Site) Server() *server.Server { return s.srv }

// Main blocks until Exit.
func (s *Site) Main() { <-s.done }

// Exit stops the site: its forwarding, its connection, its server. Safe to
// call more than once.
func (s *Site) Exit() {
	s.exitOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		if s.nc != nil {
			s.nc.Close()
		}
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		close(s.done)
		s.log.Info("site stopped")
	})
}

// Link reports whether the leaf link to the hub is up and since when.
func (s *Site) Link() (up bool, since time.Time) {
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	return s.linkUp.Load(), s.linkSince
}

// watchLink records when the leaf link comes up and goes down.
func (s *Site) watchLink() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	s.linkMu.Lock()
	s.linkSince = time.Now()
	s.linkMu.Unlock()
	var lastPrefetch time.Time
	for {
		up := s.srv.NumLeafNodes() > 0
		if up != s.linkUp.Load() {
			s.linkMu.Lock()
			s.linkUp.Store(up)
			s.linkSince = time.Now()
			s.linkMu.Unlock()
			gen := s.linkGen.Add(1)
			if up {
				lastPrefetch = time.Time{} // fetch at once on every link-up
				s.log.Info("link to the hub up")
				s.wg.Add(1)
				go s.attachSources(gen)
			} else {
				s.log.Warn("link to the hub down: messages are queued at the site")
				s.detachSources()
			}
		}
		if up && time.Since(lastPrefetch) > 5*time.Second {
			lastPrefetch = time.Now()
			go s.prefetchOnce()
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prefetchOnce runs prefetch unless one is running.
func (s *Site) prefetchOnce() {
	if !s.prefetching.CompareAndSwap(false, true) {
		return
	}
	defer s.prefetching.Store(false)
	s.prefetch()
}
