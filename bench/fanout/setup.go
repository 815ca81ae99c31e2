package fanout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
)

// cluster is the in-process cluster a benchmark runs on: 3 nodes,
// provisioned, members registered with credentials, a router and the
// agent service on every node.
type cluster struct {
	c       *broker.Cluster
	nc      *nats.Conn
	js      jetstream.JetStream
	creds   map[string]string
	signers map[string]*envelope.Signer
	stop    []func()
}

// startCluster starts the cluster with cast registered.
func startCluster(ctx context.Context, dir string, cast []*tocsinv1.Member, log *zap.Logger) (_ *cluster, err error) {
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{DataDir: filepath.Join(dir, "nodes"), BasePort: broker.RandomPort}, log)
	if err != nil {
		return nil, err
	}
	b := &cluster{c: c, creds: map[string]string{}, signers: map[string]*envelope.Signer{}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.nc, err = nats.Connect(c.ClientURL(), nats.MaxReconnects(-1)); err != nil {
		return nil, err
	}
	b.js, _ = jetstream.New(b.nc, jetstream.WithPublishAsyncMaxPending(512))
	if err := retry(ctx, func(ctx context.Context) error { return provision(ctx, b.js, c.Replicas()) }); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	if err := c.WaitStreams(ctx, "$G", broker.StreamNames()); err != nil {
		return nil, err
	}
	if err := b.register(ctx, dir, cast); err != nil {
		return nil, err
	}
	return b, b.startServices(ctx)
}

// memberConsumers is the consumer limit of the streams members read.
// nats-server applies a default of 1,000 consumers per stream when neither
// the stream nor the account sets one (an account's "no limit" counts as
// not set), and every member has a consumer per sector on SECTORS and one
// on INBOX: more than 1,000 members need the streams' own limit.
const memberConsumers = 100_000

// provision is broker.Provision with memberConsumers on the streams
// members read.
func provision(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, cfg := range broker.StreamConfigs(replicas) {
		switch cfg.Name {
		case subjects.StreamSectors, subjects.StreamInbox, subjects.StreamRejections:
			cfg.MaxConsumers = memberConsumers
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range broker.KVConfigs(replicas) {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// register issues credentials for every reader of cast (a member with
// consumers to read), signing keys for the rest, and seeds the registry.
func (b *cluster) register(ctx context.Context, dir string, cast []*tocsinv1.Member) error {
	a, err := auth.Init(filepath.Join(dir, "auth"))
	if err != nil {
		return err
	}
	credsDir := filepath.Join(dir, "creds")
	if err := os.MkdirAll(credsDir, 0o700); err != nil {
		return err
	}
	for _, m := range cast {
		kp, _ := nkeys.CreateUser()
		if len(auth.Consumers(m)) > 0 {
			creds, err := a.IssueMemberWithKey(m, kp)
			if err != nil {
				return err
			}
			b.creds[m.GetId()] = filepath.Join(credsDir, m.GetId()+".creds")
			if err := os.WriteFile(b.creds[m.GetId()], creds, 0o600); err != nil {
				return err
			}
		}
		if b.signers[m.GetId()], err = envelope.NewSigner(m.GetId(), kp); err != nil {
			return err
		}
		m.Keys = []*tocsinv1.SigningKey{{PublicKey: b.signers[m.GetId()].KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	}
	reg, err := members.Open(ctx, b.js, members.DefaultVocabulary(), zap.NewNop())
	if err != nil {
		return err
	}
	defer reg.Close()
	_, err = reg.Seed(ctx, cast)
	return err
}

// startServices runs a router and the agent service on every node.
func (b *cluster) startServices(ctx context.Context) error {
	validator, err := stix.New(stix.Options{})
	if err != nil {
		return err
	}
	for _, n := range b.c.Nodes() {
		nc, err := nats.Connect(n.ClientURL(), nats.MaxReconnects(-1))
		if err != nil {
			return err
		}
		js, _ := jetstream.New(nc)
		reg, err := members.Open(ctx, js, members.DefaultVocabulary(), zap.NewNop())
		if err != nil {
			nc.Close()
			return err
		}
		r, err := alerts.New(ctx, alerts.Deps{JS: js, Registry: reg, Verifier: envelope.NewVerifier(reg, envelope.VerifyOptions{}),
			Validator: validator, Signer: b.signers["svc-bench"]}, alerts.Options{}, zap.NewNop())
		if err != nil {
			return errors.Join(err, closeAll(reg, nc))
		}
		svc, err := agent.NewService(agent.ServiceDeps{Conn: nc, JS: js, Registry: reg}, agent.ServiceOptions{}, zap.NewNop())
		if err != nil {
			return errors.Join(err, closeAll(reg, nc))
		}
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{}, 2)
		go func() { _ = r.Run(rctx); done <- struct{}{} }()
		go func() { _ = svc.Run(rctx); done <- struct{}{} }()
		b.stop = append(b.stop, func() { cancel(); <-done; <-done; _ = closeAll(reg, nc) })
	}
	return nil
}

func closeAll(reg *members.Registry, nc *nats.Conn) error {
	reg.Close()
	nc.Close()
	return nil
}

func (b *cluster) close() {
	for _, s := range b.stop {
		s()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	b.c.Shutdown()
}
