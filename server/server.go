package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web"
	"github.com/tocsin-project/tocsin/web/metrics"
)

// Server is a running Tocsin: its local broker node(s), the services on
// each and the HTTP listener.
type Server struct {
	opts Options
	log  *zap.Logger

	cluster *broker.Cluster // dev mode
	node    *broker.Node    // node mode
	dev     *devAuth        // dev mode: keys, demo credentials
	svcOpts []nats.Option   // how services connect (credentials)
	nodeAcc string          // node mode: the account of streams and services

	httpLn  net.Listener
	httpSrv *http.Server
	https   bool // httpSrv serves TLS (Options.HTTPTLS)

	mu       sync.Mutex
	conns    []*nats.Conn // one service connection per local node
	services []*services  // one per local node
	js       jetstream.JetStream
	ready    bool
	problem  string

	exitOnce sync.Once

	web           web.Deferred    // the HTTP face: TAXII, console, metrics
	routerMetrics *metrics.Router // what the local routers report (observeRouters)
}

// New validates opts, starts the local broker node(s) and binds the HTTP
// listener. It returns once every listener is bound; Main does the rest.
// On failure nothing is left running.
func New(ctx context.Context, opts Options, log *zap.Logger) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: log, problem: "starting"}
	s.observeRouters()
	var tlsCfg *tls.Config
	if opts.HTTPTLS != nil && !opts.NoHTTP {
		var err error
		if tlsCfg, err = httpsConfig(opts.HTTPTLS, log); err != nil {
			return nil, err
		}
	}
	if err := s.startBroker(ctx); err != nil {
		return nil, err
	}
	if !opts.NoHTTP {
		ln, err := net.Listen("tcp", opts.HTTPAddr)
		if err != nil {
			s.stopBroker()
			return nil, fmt.Errorf("%w: http: cannot listen on %s: %v; is another tocsin running? pick another address with --http", broker.ErrInvalidOptions, opts.HTTPAddr, err)
		}
		s.httpLn, s.https = ln, tlsCfg != nil
		// The server's own log lines are about callers (a failed TLS
		// handshake, a broken connection): debug, not the operator's alarm.
		errLog, _ := zap.NewStdLogAt(log.Named("http"), zap.DebugLevel)
		s.httpSrv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg, ErrorLog: errLog}
		if s.dev == nil && tlsCfg == nil {
			log.Warn("http: plain HTTP: TAXII and the console refuse every credential outside dev; set http_tls in the node config to serve HTTPS")
		}
	}
	return s, nil
}

func (s *Server) startBroker(ctx context.Context) error {
	if d := s.opts.Dev; d != nil {
		dev, err := prepareDevAuth(d.DataDir)
		if err != nil {
			return err
		}
		opt, err := dev.serviceOption()
		if err != nil {
			return err
		}
		s.dev, s.svcOpts = dev, []nats.Option{opt}
		var files *broker.TLSOptions
		if d.TLS {
			if files, err = prepareDevTLS(d.DataDir); err != nil {
				return err
			}
		}
		c, err := broker.StartCluster(ctx, broker.ClusterOptions{
			Nodes:        d.Nodes,
			DataDir:      d.DataDir,
			BasePort:     d.Port,
			SyncInterval: d.SyncInterval,
			Configure: func(i int, o *broker.NodeOptions) {
				o.Auth, o.TLS, o.ClusterTLS = dev.server, files, files
				if d.LeafPort != 0 {
					o.Leaf = &broker.LeafOptions{Port: devLeafPort(d.LeafPort, i), TLS: files, InsecureNoTLS: files == nil,
						Websocket: &broker.LeafWebsocketOptions{Port: devWebsocketPort(d.LeafPort, i), TLS: files, InsecureNoTLS: files == nil}}
				}
			},
		}, s.log)
		if err != nil {
			return err
		}
		s.cluster = c
		return nil
	}
	svc, account, err := nodeServices(s.opts)
	if err != nil {
		return err
	}
	s.svcOpts, s.nodeAcc = svc, account
	n, err := broker.NewNode(*s.opts.Node, s.log)
	if err != nil {
		return err
	}
	s.node = n
	return nil
}

// account is the JetStream account the services and streams live in.
func (s *Server) account() string {
	if s.dev != nil {
		return s.dev.authority.Account()
	}
	return s.nodeAcc
}

// CredsDir is where a dev cluster wrote the demo members' credentials.
func (s *Server) CredsDir() string {
	if s.dev == nil {
		return ""
	}
	return s.dev.credsDir
}

// localNodes are the nodes running in this process.
func (s *Server) localNodes() []*broker.Node {
	if s.cluster != nil {
		return s.cluster.Nodes()
	}
	return []*broker.Node{s.node}
}

// replicas is the replica count for streams: 3, or the cluster size when
// smaller; a node's is its shape's (shape.replicas).
func (s *Server) replicas() int {
	if s.cluster != nil {
		return s.cluster.Replicas()
	}
	return s.shape().replicas()
}

// ClientURLs returns the client URL of every local node.
func (s *Server) ClientURLs() []string {
	var urls []string
	for _, n := range s.localNodes() {
		urls = append(urls, n.ClientURL())
	}
	return urls
}

// HTTPAddr is the bound HTTP address, "" when disabled.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// HTTPURL is the HTTP listener's base URL, https:// with HTTPTLS, "" when
// disabled.
func (s *Server) HTTPURL() string {
	switch {
	case s.httpLn == nil:
		return ""
	case s.https:
		return "https://" + s.HTTPAddr()
	}
	return "http://" + s.HTTPAddr()
}

// Cluster is the in-process cluster in dev mode, nil in node mode.
func (s *Server) Cluster() *broker.Cluster { return s.cluster }

// Main waits for the cluster to be ready, provisions streams and buckets,
// starts the services and serves HTTP. It blocks until ctx ends or
// something fails, and returns the first error (nil on a clean stop).
func (s *Server) Main(ctx context.Context) error {
	errc := make(chan error, 4)
	if s.httpSrv != nil {
		go func() {
			serve := s.httpSrv.Serve
			if s.https {
				// The certificate comes from TLSConfig.GetCertificate.
				serve = func(ln net.Listener) error { return s.httpSrv.ServeTLS(ln, "", "") }
			}
			if err := serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
	}
	for _, n := range s.localNodes() {
		go func() {
			select {
			case <-n.Fatal():
				errc <- n.Err()
			case <-ctx.Done():
			}
		}()
	}
	go func() {
		if err := s.start(ctx, errc); err != nil {
			errc <- err
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		return err
	}
}

// start brings the cluster to ready: meta leader, provisioned streams,
// every stream current, services subscribed.
//
// In dev mode every node is in this process, so not being ready within
// ReadyTimeout is an error. A node of a real cluster keeps trying for as
// long as it runs: a missing peer is retried, and /readyz says what is
// missing meanwhile.
func (s *Server) start(ctx context.Context, errc chan<- error) error {
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if s.cluster != nil {
		rctx, cancel = context.WithTimeout(ctx, s.opts.ReadyTimeout)
	}
	defer cancel()
	s.setProblem("waiting for a jetstream meta leader")
	for _, n := range s.localNodes() {
		if err := n.WaitJetStream(rctx); err != nil {
			return s.notReady(err)
		}
	}
	for _, n := range s.localNodes() {
		nc, err := serviceConn(n, "tocsin-service-"+n.Name(), s.log, s.svcOpts...)
		if err != nil {
			return fmt.Errorf("service connection to node %q: %w", n.Name(), err)
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		if _, err := nc.Subscribe(subjects.SvcStatus, s.statusHandler(n)); err != nil {
			return err
		}
	}
	js, err := jsctx.JetStream(s.conns[0])
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.js = js
	s.mu.Unlock()
	if s.node != nil {
		if err := s.waitPeers(rctx); err != nil {
			return s.notReady(err)
		}
	}
	// After a restart the streams exist: let their leaders be elected and
	// catch up before provisioning asks them anything.
	if existing := s.assignedStreams(); len(existing) > 0 {
		s.setProblem(fmt.Sprintf("waiting for %d streams to elect leaders and catch up", len(existing)))
		if err := poll(rctx, func() error { return s.streamsCurrent(existing) }); err != nil {
			return s.notReady(err)
		}
	}
	if s.shape().holdsNoSet() {
		// A witness: no stream to provision or wait for, no service.
		s.becomeReady("witness ready: a vote in the meta group, no stream set")
		return nil
	}
	s.setProblem("provisioning streams")
	err = retry(rctx, func() error {
		if set, ok := s.shape().regionSet(); ok {
			return s.provisionRegion(rctx, js, set)
		}
		// Of a real cluster's nodes, the meta leader provisions and the
		// others wait for it: concurrent creates of one stream from every
		// node only queue work on the meta leader.
		// Each JetStream call has its own timeout (broker.CallTimeout).
		actx := rctx
		if s.node != nil && !s.node.Server().JetStreamIsLeader() {
			err := broker.CheckProvisionedIn(actx, js, s.replicas(), s.streamsRegion())
			if err != nil {
				s.setProblem(fmt.Sprintf("waiting for the meta leader to provision streams: %v", err))
			}
			return err
		}
		err := broker.ProvisionIn(actx, js, s.replicas(), s.streamsRegion())
		if err != nil {
			s.setProblem(fmt.Sprintf("provisioning streams at R%d: %v", s.replicas(), err))
		}
		return err
	})
	if err != nil {
		return s.notReady(err)
	}
	s.setProblem("waiting for every stream to be current")
	if s.cluster != nil {
		if err := s.cluster.WaitStreams(rctx, s.account(), s.shape().streamNames()); err != nil {
			return s.notReady(err)
		}
	}
	s.setProblem("starting services")
	if err := s.startServices(rctx, ctx, errc); err != nil {
		return s.notReady(err)
	}
	s.becomeReady("cluster ready")
	return nil
}

// becomeReady marks the server ready, logs msg and calls OnReady.
func (s *Server) becomeReady(msg string) {
	s.mu.Lock()
	s.ready, s.problem = true, ""
	s.mu.Unlock()
	s.log.Info(msg, zap.Strings("clients", s.ClientURLs()), zap.String("http", s.HTTPURL()))
	if s.opts.OnReady != nil {
		s.opts.OnReady(s)
	}
}

// provisionRegion provisions this node's region's set (docs/REGIONS.md) if
// it is its region's provisioner (provisionsRegion), else checks it.
func (s *Server) provisionRegion(ctx context.Context, js jetstream.JetStream, set broker.RegionSet) error {
	if !s.provisionsRegion() {
		err := broker.CheckProvisionedRegion(ctx, js, set)
		if err != nil {
			s.setProblem(fmt.Sprintf("waiting for region %s's stream set to be provisioned: %v", set.Region, err))
		}
		return err
	}
	err := broker.ProvisionRegion(ctx, js, set)
	if err != nil {
		s.setProblem(fmt.Sprintf("provisioning region %s's stream set at R%d: %v", set.Region, set.Replicas, err))
	}
	return err
}

// streamsRegion is the region the channel's streams are placed in, on a
// node of a supercluster; "" otherwise (docs/REGIONS.md).
func (s *Server) streamsRegion() string {
	if s.node != nil && s.node.Options().Gateway != nil {
		return s.node.Options().Gateway.StreamsRegion
	}
	return ""
}

func (s *Server) notReady(err error) error {
	if s.cluster == nil { // a node keeps trying until it is stopped: no bound to name
		return fmt.Errorf("node not ready: %w", err)
	}
	return fmt.Errorf("cluster not ready within %s: %w", s.opts.ReadyTimeout, err)
}

// assignedStreams lists the Tocsin streams the meta group already knows.
func (s *Server) assignedStreams() []string {
	srv := s.localNodes()[0].Server()
	var out []string
	for _, name := range s.shape().streamNames() {
		if !srv.JetStreamIsClustered() || srv.JetStreamIsStreamAssigned(s.account(), name) {
			out = append(out, name)
		}
	}
	if !srv.JetStreamIsClustered() {
		return nil
	}
	return out
}

// streamsCurrent reports the first named stream that has no leader or is
// behind on a local node holding a replica.
func (s *Server) streamsCurrent(names []string) error {
	if s.cluster != nil {
		return s.cluster.StreamsCurrent(s.account(), names)
	}
	return broker.NodeStreamsCurrent(s.node, s.account(), names)
}

// waitPeers waits until the meta group sees enough nodes online to place
// every stream's replicas: asking for an R3 stream with two nodes up only
// queues requests the meta leader must later work through.
func (s *Server) waitPeers(ctx context.Context) error {
	want := s.replicas()
	return poll(ctx, func() error {
		st, err := nodeStatus(s.node)
		if err != nil {
			return err
		}
		up := 0
		for _, n := range st.Nodes {
			if n.Up {
				up++
			}
		}
		if up >= want && st.MetaLeader != "" {
			return nil
		}
		p := fmt.Sprintf("waiting for %d nodes to place R%d streams: %d up, meta leader %q", want, want, up, st.MetaLeader)
		if len(st.Problems) > 0 {
			p += "; " + strings.Join(st.Problems, "; ")
		}
		s.setProblem(p)
		return errors.New(p)
	})
}

// retry calls f until it succeeds or ctx ends, backing off from 250ms to
// 5s: stream creation fails while a new meta leader settles.
func retry(ctx context.Context, f func() error) error {
	wait := 250 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// poll calls f every 100ms until it returns nil or ctx ends.
func poll(ctx context.Context, f func() error) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
		}
	}
}

func (s *Server) setProblem(p string) {
	s.mu.Lock()
	s.problem = p
	s.mu.Unlock()
}

// Ready reports whether the server finished starting, and if not why.
func (s *Server) Ready() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready, s.problem
}

// Status returns the cluster as the first local node sees it.
func (s *Server) Status(ctx context.Context) (*Status, error) {
	var answers []*Status
	for _, n := range s.localNodes() {
		if !n.Running() {
			continue
		}
		st, err := nodeStatus(n)
		if err != nil {
			return nil, err
		}
		answers = append(answers, st)
	}
	merged := Merge(answers)
	s.mu.Lock()
	js := s.js
	s.mu.Unlock()
	if js != nil {
		s.streamsAndDeadLetters(ctx, js, merged)
	}
	return merged, nil
}

func (s *Server) statusHandler(n *broker.Node) nats.MsgHandler {
	return func(m *nats.Msg) {
		st, err := nodeStatus(n)
		if err != nil {
			st = &Status{Node: n.Name(), Problems: []string{err.Error()}}
		}
		s.mu.Lock()
		js := s.js
		s.mu.Unlock()
		if js != nil {
			ctx, cancel := context.WithTimeout(context.Background(), StatusReadTimeout)
			s.streamsAndDeadLetters(ctx, js, st)
			cancel()
		}
		data, _ := json.Marshal(st)
		_ = m.Respond(data)
	}
}

// Exit closes the member registries (their watchers would take the drain
// for a failure), drains the service connections, stops HTTP and shuts
// every local node down. Safe to call more than once.
func (s *Server) Exit() {
	s.exitOnce.Do(func() {
		s.log.Info("stopping: draining connections")
		s.mu.Lock()
		conns, svcs := s.conns, s.services
		s.mu.Unlock()
		for _, sv := range svcs {
			sv.registry.Close()
		}
		for _, nc := range conns {
			drain(nc, s.opts.DrainTimeout)
		}
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
			_ = s.httpSrv.Shutdown(ctx)
			cancel()
		}
		s.stopBroker()
		s.log.Info("stopped")
	})
}

func (s *Server) stopBroker() {
	if s.cluster != nil {
		s.cluster.Shutdown()
	}
	if s.node != nil {
		s.node.Shutdown()
	}
}

// drain drains nc and waits for it to close, at most timeout.
func drain(nc *nats.Conn, timeout time.Duration) {
	done := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-done:
	case <-time.After(timeout):
		nc.Close()
	}
}

// routes serves health and readiness.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	web.Register(mux, &s.web)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		for _, n := range s.localNodes() {
			if err := n.Err(); err != nil {
				http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ready, why := s.Ready()
		if !ready {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		st, err := s.Status(r.Context())
		if err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !st.Serving() {
			http.Error(w, "not ready:\n"+strings.Join(st.Problems, "\n"), http.StatusServiceUnavailable)
			return
		}
		if len(st.Problems) > 0 {
			fmt.Fprintln(w, "ready, degraded:\n"+strings.Join(st.Problems, "\n"))
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.Status(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	return mux
}
