package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/internal/syncfile"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/sitewatch"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/web"
)

// services are what runs on one node besides the broker: the router and
// the mutual-aid service.
type services struct {
	registry *members.Registry
	router   *alerts.Router
	aid      *mutualaid.Service
}

// newValidator builds the STIX validator with the pattern parser; nil (and
// a logged error) when the binary has no schemas, so the router refuses
// alerts with a clear reason instead of the node failing to start.
func newValidator(log *zap.Logger) *stix.Validator {
	v, err := stix.New(stix.Options{}) // patterns parsed with pattern.Parse, the default
	if err != nil {
		log.Error("stix validation unavailable: every alert will be refused", zap.Error(err))
		return nil
	}
	return v
}

// serviceSigner loads (or creates) a node's service key from dir and
// registers it as the member "svc-<node>" with the service role, so that
// what the node signs (rejections, summaries) verifies like anything else.
func serviceSigner(ctx context.Context, reg *members.Registry, dir, node string) (*envelope.Signer, nkeys.KeyPair, error) {
	path := filepath.Join(dir, "service.nk")
	seed, err := serviceSeed(path)
	if err != nil {
		return nil, nil, err
	}
	id := "svc-" + node
	signer, err := envelope.SignerFromSeed(id, seed)
	if err != nil {
		return nil, nil, fmt.Errorf("service key %s: %w", path, err)
	}
	key := &tocsinv1.SigningKey{PublicKey: signer.KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Minute))}
	_, err = reg.Update(ctx, id, func(m *tocsinv1.Member) error {
		for _, k := range m.GetKeys() {
			if k.GetPublicKey() == key.GetPublicKey() {
				return nil
			}
		}
		m.Keys = append(m.Keys, key)
		return nil
	})
	if errors.Is(err, members.ErrNotFound) {
		err = reg.Add(ctx, &tocsinv1.Member{
			Id: id, Name: "Tocsin service on node " + node, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE},
			Keys: []*tocsinv1.SigningKey{key}, CreatedAt: timestamppb.Now(),
		})
		if errors.Is(err, members.ErrExists) {
			return serviceSigner(ctx, reg, dir, node)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("register service member %s: %w", id, err)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, nil, fmt.Errorf("service key %s: %w", path, err)
	}
	return signer, kp, nil
}

// serviceSeed reads the service key's seed at path, or creates a key and
// writes its seed there durably (syncfile.WriteFile): a key written and lost in
// a power failure would leave the node unable to start.
func serviceSeed(path string) ([]byte, error) {
	seed, err := os.ReadFile(path)
	if err == nil {
		return seed, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read service key %s: %w", path, err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	if seed, err = kp.Seed(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := syncfile.WriteFile(path, seed, 0o600); err != nil {
		return nil, fmt.Errorf("write service key %s: %w", path, err)
	}
	return seed, nil
}

// startServices opens the registry and starts a router on every local
// node's service connection: setup is bounded by ctx, the services run
// until run ends; their errors go to errc.
func (s *Server) startServices(ctx, run context.Context, errc chan<- error) error {
	validator := newValidator(s.log)
	relays := s.relays()
	var face *web.Web
	for i, n := range s.localNodes() {
		nc := s.conns[i]
		js, err := jsctx.JetStream(nc)
		if err != nil {
			return err
		}
		// The registry's watch creates a consumer, which times out while
		// the meta leader is busy (a supercluster's nodes all starting):
		// tried again until ctx ends, as provisioning is.
		var reg *members.Registry
		err = retry(ctx, func() error {
			reg, err = members.OpenBucket(ctx, js, s.shape().registryBucket(), members.DefaultVocabulary(), s.log.Named("members"))
			if err != nil {
				s.setProblem(fmt.Sprintf("opening the member registry: %v", err))
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("node %q: member registry: %w", n.Name(), err)
		}
		signer, kp, err := serviceSigner(ctx, reg, n.Options().StoreDir, n.Name())
		if err != nil {
			return err
		}
		verifier := envelope.NewVerifier(reg, envelope.VerifyOptions{Relays: relays})
		if i == 0 && s.httpSrv != nil {
			face, err = web.New(ctx, web.Deps{JS: js, Registry: reg, Verifier: verifier, Validator: validator, ServiceKey: kp, ServiceID: signer.Sender(),
				Status: func(ctx context.Context) (any, error) { return s.Status(ctx) }, Collectors: s.routerMetrics.Collectors(), Streams: s.webStreams()},
				web.Options{AllowPlainHTTP: s.dev != nil, Region: s.shape().setRegion()}, s.log)
			if err != nil {
				return fmt.Errorf("node %q: web: %w", n.Name(), err)
			}
		}
		// Every service on its region's set (docs/REGIONS.md): "" keeps a
		// single cluster's names.
		routerOpts, aidOpts := s.opts.Router, s.opts.Aid
		routerOpts.Region, aidOpts.Region = s.shape().setRegion(), s.shape().setRegion()
		router, err := alerts.New(ctx, alerts.Deps{JS: js, Registry: reg, Verifier: verifier, Validator: validator, Signer: signer},
			routerOpts, s.log.With(zap.String("node", n.Name())))
		if err != nil {
			return err
		}
		aid, err := mutualaid.New(ctx, mutualaid.Deps{JS: js, Registry: reg, Verifier: verifier, Signer: signer},
			aidOpts, s.log.With(zap.String("node", n.Name())))
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.services = append(s.services, &services{registry: reg, router: router, aid: aid})
		s.mu.Unlock()
		members, err := agent.NewService(agent.ServiceDeps{Conn: nc, JS: js, Registry: reg}, agent.ServiceOptions{}, s.log.With(zap.String("node", n.Name())))
		if err != nil {
			return err
		}
		runs := map[string]func(context.Context) error{"router": router.Run, "mutual aid": aid.Run, "directory and consumers": members.Run}
		if n.Options().Leaf != nil {
			sites, err := sitewatch.New(sitewatch.Deps{Server: n.Server(), JS: js, Node: n.Name(), Members: reg}, sitewatch.Options{Region: s.shape().setRegion()}, s.log.With(zap.String("node", n.Name())))
			if err != nil {
				return err
			}
			runs["site links"] = sites.Run
		}
		for name, run1 := range runs {
			go s.keepRunning(run, errc, n.Name(), name, run1)
		}
	}
	if face != nil {
		go func() { _ = face.Run(run) }()
		s.web.Set(face)
	}
	if s.dev != nil {
		if err := s.dev.admit(ctx, run, s.Registry(), s); err != nil {
			return err
		}
		if face != nil {
			return s.dev.consoleTokens(ctx, face)
		}
	}
	return nil
}

// webStreams are the streams the web face's /metrics reports: its
// region's set on stream sets, else its default (nil).
func (s *Server) webStreams() []string {
	if set, ok := s.shape().regionSet(); ok {
		return set.StreamNames()
	}
	return nil
}

// relays are the service members allowed to sign for members (TAXII
// submissions, console receipts and decisions): every node's "svc-<node>".
func (s *Server) relays() []string {
	var out []string
	if s.cluster != nil {
		for _, n := range s.localNodes() {
			out = append(out, "svc-"+n.Name())
		}
		return out
	}
	if st, err := nodeStatus(s.node); err == nil {
		for _, n := range st.Nodes {
			out = append(out, "svc-"+n.Name)
		}
	}
	return out
}

// Registry is the member registry of the first local node's services; nil
// before the server is ready.
func (s *Server) Registry() *members.Registry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.services) == 0 {
		return nil
	}
	return s.services[0].registry
}

// serviceConn returns a new in-process connection to node n with the
// service's rights (opts carry its credentials). Its asynchronous errors
// (a consumer whose node went away, a slow consumer) go to log, not to
// standard error.
func serviceConn(n *broker.Node, name string, log *zap.Logger, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{nats.InProcessServer(n.Server()), nats.Name(name), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Debug("connection error", zap.String("connection", name), zap.String("subject", subject), zap.Error(err))
		})}
	return nats.Connect("", append(base, opts...)...)
}

// keepRunning runs a node's service until run ends. A node of a real
// cluster retries a failed start (a JetStream call timed out while its
// peers lost quorum right after start) for as long as it runs, with
// backoff, logging each failure; a dev cluster, all in this process,
// retries only a call that timed out (a loaded machine: seen on 2 shared
// cores) and reports any other failure.
func (s *Server) keepRunning(run context.Context, errc chan<- error, node, name string, f func(context.Context) error) {
	wait := time.Second
	for {
		err := f(run)
		if err == nil || run.Err() != nil {
			return
		}
		if s.dev != nil && !timedOut(err) {
			errc <- fmt.Errorf("node %q: %s: %w", node, name, err)
			return
		}
		s.log.Error("service stopped; restarting it", zap.String("node", node), zap.String("service", name), zap.Error(err), zap.Duration("in", wait))
		select {
		case <-run.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// timedOut reports a call that got no answer in time.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}
