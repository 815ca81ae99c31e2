// Package testworld starts, for tests, a real provisioned 3-node cluster
// with members registered (each reader with a .creds file whose key is its
// signing key), a router on every node and any other service the test
// adds there, and publishes as any member.
package testworld

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
)

// ServiceID is the service member whose key the routers sign with.
const ServiceID = "svc-test"

// World is the running cluster and what a test needs to act in it.
type World struct {
	t testing.TB
	// C is the cluster.
	C *broker.Cluster
	// NC and JS are an unrestricted connection (no authentication).
	NC *nats.Conn
	JS jetstream.JetStream
	// Registry is the member registry.
	Registry *members.Registry
	// Creds maps each member that reads (member, responder, liaison) to
	// its .creds file.
	Creds map[string]string
	// Signers maps every member to a signer with its registered key.
	Signers map[string]*envelope.Signer
	stops   []func()
}

// Service starts one more service on a node, with that node's connection,
// JetStream context and registry; it runs until ctx ends.
type Service func(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, reg *members.Registry) error

// Member makes a registry record.
func Member(id string, role tocsinv1.Role, sectors ...string) *tocsinv1.Member {
	region := "northeast"
	if len(sectors) == 0 {
		region = ""
	}
	return &tocsinv1.Member{Id: id, Name: id + " (test)", Sectors: sectors, Region: region, Roles: []tocsinv1.Role{role}}
}

// Start starts the world with the members of cast (and ServiceID) and, on
// every node, a router and services.
func Start(t testing.TB, cast []*tocsinv1.Member, services ...Service) *World {
	t.Helper()
	w := &World{t: t, C: testcluster.Start(t), Creds: map[string]string{}, Signers: map[string]*envelope.Signer{}}
	w.NC = testcluster.Connect(t, w.C.ClientURL())
	var err error
	if w.JS, err = jetstream.New(w.NC); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if w.Registry, err = members.Open(ctx, w.JS, members.DefaultVocabulary(), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Registry.Close)
	cast = append(cast, Member(ServiceID, tocsinv1.Role_ROLE_SERVICE))
	w.register(cast)
	if _, err := w.Registry.Seed(ctx, cast); err != nil {
		t.Fatal(err)
	}
	validator, err := stix.New(stix.Options{})
	if err != nil {
		t.Fatalf("validator: %v (run 'make schemas')", err)
	}
	for _, n := range w.C.Nodes() {
		w.startNode(ctx, n.ClientURL(), validator, services)
	}
	return w
}

// register gives every member of cast a key (in .creds for readers).
func (w *World) register(cast []*tocsinv1.Member) {
	a, err := auth.Init(w.t.TempDir())
	if err != nil {
		w.t.Fatal(err)
	}
	dir := w.t.TempDir()
	for _, m := range cast {
		kp, _ := nkeys.CreateUser()
		if !members.HasRole(m, tocsinv1.Role_ROLE_SERVICE) && !members.HasRole(m, tocsinv1.Role_ROLE_ADMIN) {
			creds, err := a.IssueMemberWithKey(m, kp)
			if err != nil {
				w.t.Fatal(err)
			}
			w.Creds[m.GetId()] = filepath.Join(dir, m.GetId()+".creds")
			if err := os.WriteFile(w.Creds[m.GetId()], creds, 0o600); err != nil {
				w.t.Fatal(err)
			}
		}
		s, err := envelope.NewSigner(m.GetId(), kp)
		if err != nil {
			w.t.Fatal(err)
		}
		w.Signers[m.GetId()] = s
		m.Keys = []*tocsinv1.SigningKey{{PublicKey: s.KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	}
}

// startNode runs a router and the services on one node until the test ends.
func (w *World) startNode(ctx context.Context, url string, validator *stix.Validator, services []Service) {
	nc := testcluster.Connect(w.t, url)
	js, _ := jetstream.New(nc)
	reg, err := members.Open(ctx, js, members.DefaultVocabulary(), zap.NewNop())
	if err != nil {
		w.t.Fatal(err)
	}
	r, err := alerts.New(ctx, alerts.Deps{JS: js, Registry: reg, Verifier: envelope.NewVerifier(reg, envelope.VerifyOptions{}),
		Validator: validator, Signer: w.Signers[ServiceID]}, alerts.Options{}, zap.NewNop())
	if err != nil {
		w.t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(rctx) }()
	for _, s := range services {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s(rctx, nc, js, reg) }()
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait(); reg.Close() }) }
	w.stops = append(w.stops, stop)
	w.t.Cleanup(stop)
}

// StopServices stops the router and the services of node i (before the
// node itself is stopped).
func (w *World) StopServices(i int) { w.stops[i]() }

// Publish seals payloads as sender and publishes them on the ingest
// subject of kind, asynchronously, waiting for every PubAck.
func (w *World) Publish(sender string, kind tocsinv1.Kind, payloads ...proto.Message) []*tocsinv1.Envelope {
	w.t.Helper()
	var envs []*tocsinv1.Envelope
	var futures []jetstream.PubAckFuture
	for _, p := range payloads {
		env, err := w.Signers[sender].Seal(kind, p)
		if err != nil {
			w.t.Fatal(err)
		}
		data, err := envelope.Marshal(env)
		if err != nil {
			w.t.Fatal(err)
		}
		token, _ := records.IngestToken(kind)
		msg := nats.NewMsg(subjects.Ingest(token, sender))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		f, err := w.JS.PublishMsgAsync(msg)
		if err != nil {
			w.t.Fatal(err)
		}
		envs, futures = append(envs, env), append(futures, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range futures {
		if err := jsctx.AwaitPubAck(ctx, f); err != nil {
			w.t.Fatalf("publish: %v (PubAcks waited for up to 30s)", err)
		}
	}
	return envs
}

// Routed waits until the router has an outcome for every envelope and
// fails the test unless each was routed.
func (w *World) Routed(sender string, envs []*tocsinv1.Envelope) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	kv, err := w.JS.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, env := range envs {
		var o *tocsinv1.Outcome
		testwait.Until(ctx, w.t, "an outcome for "+env.GetId(), func() (err error) {
			if o, err = records.GetOutcome(ctx, kv, sender, env.GetId()); err == nil && o == nil {
				err = errors.New("none yet")
			}
			return err
		})
		if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			w.t.Fatalf("%s: outcome %v (%v)", env.GetId(), o.GetState(), o.GetRejection())
		}
	}
}
