package agent

import (
	"context"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/alerts/pattern"
	"github.com/tocsin-project/tocsin/alerts/stix"
	"github.com/tocsin-project/tocsin/alerts/tlp"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// world is a real 3-node cluster with members registered (each with
// credentials whose key is its signing key), routers and the agent
// service on every node.
type world struct {
	t       *testing.T
	c       *broker.Cluster
	nc      *nats.Conn
	js      jetstream.JetStream
	reg     *members.Registry
	creds   map[string]string // member id → .creds path
	signers map[string]*envelope.Signer
	stops   []func()
}

// member makes a registry record.
func member(id string, role tocsinv1.Role, sectors ...string) *tocsinv1.Member {
	region := "northeast"
	if len(sectors) == 0 {
		region = ""
	}
	return &tocsinv1.Member{Id: id, Name: id + " (test)", Sectors: sectors, Region: region, Roles: []tocsinv1.Role{role}}
}

// newWorld starts the cluster with the demo cast plus extra members.
func newWorld(t *testing.T, extra ...*tocsinv1.Member) *world {
	t.Helper()
	cast, err := members.DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	return newWorldOf(t, append(cast, extra...))
}

// newWorldOf starts the cluster with the members of cast.
func newWorldOf(t *testing.T, cast []*tocsinv1.Member) *world {
	t.Helper()
	c := testcluster.Start(t)
	w := &world{t: t, c: c, creds: map[string]string{}, signers: map[string]*envelope.Signer{}}
	w.nc = testcluster.Connect(t, c.ClientURL())
	var err error
	if w.js, err = jetstream.New(w.nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if w.reg, err = members.Open(ctx, w.js, members.DefaultVocabulary(), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.reg.Close)
	cast = append(cast, member("svc-test", tocsinv1.Role_ROLE_SERVICE))
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	credsDir := t.TempDir()
	for _, m := range cast {
		var kp nkeys.KeyPair
		if members.HasRole(m, tocsinv1.Role_ROLE_SERVICE) || members.HasRole(m, tocsinv1.Role_ROLE_ADMIN) {
			kp, _ = nkeys.CreateUser()
		} else {
			creds, _, err := a.IssueMember(m)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(credsDir, m.GetId()+".creds")
			if err := os.WriteFile(path, creds, 0o600); err != nil {
				t.Fatal(err)
			}
			w.creds[m.GetId()] = path
			if kp, err = nkeys.ParseDecoratedNKey(creds); err != nil {
				t.Fatal(err)
			}
		}
		s, err := envelope.NewSigner(m.GetId(), kp)
		if err != nil {
			t.Fatal(err)
		}
		w.signers[m.GetId()] = s
		m.Keys = []*tocsinv1.SigningKey{{PublicKey: s.KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	}
	if _, err := w.reg.Seed(ctx, cast); err != nil {
		t.Fatal(err)
	}
	validator, err := stix.New(stix.Options{PatternCheck: func(p string) error { _, err := pattern.Parse(p); return err }})
	if err != nil {
		t.Fatalf("validator: %v (run 'make schemas')", err)
	}
	for i, n := range c.Nodes() {
		nc := testcluster.Connect(t, n.ClientURL())
		js, _ := jetstream.New(nc)
		nodeReg, err := members.Open(ctx, js, members.DefaultVocabulary(), zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		r, err := alerts.New(ctx, alerts.Deps{JS: js, Registry: nodeReg, Verifier: envelope.NewVerifier(nodeReg, envelope.VerifyOptions{}),
			Validator: validator, Signer: w.signers["svc-test"]}, alerts.Options{}, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		svc, err := NewService(ServiceDeps{Conn: nc, JS: js, Registry: nodeReg}, ServiceOptions{}, zaptest.NewLogger(t).Named(fmt.Sprint("svc-", i)))
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithCancel(context.Background())
		done := make(chan struct{}, 2)
		go func() { _ = r.Run(rctx); done <- struct{}{} }()
		go func() { _ = svc.Run(rctx); done <- struct{}{} }()
		var once sync.Once
		stop := func() { once.Do(func() { rcancel(); <-done; <-done; nodeReg.Close() }) }
		w.stops = append(w.stops, stop)
		t.Cleanup(stop)
	}
	return w
}

// stopServices stops the router and the service of node i (before the
// node itself is stopped).
func (w *world) stopServices(i int) { w.stops[i]() }

// alert is a GREEN routine alert for the sectors, with its own indicator.
func alert(title string, sectors ...string) *tocsinv1.Alert {
	return &tocsinv1.Alert{Title: title, Lane: tocsinv1.Lane_LANE_ROUTINE, Sectors: sectors, Tlp: tocsinv1.TLP_TLP_GREEN,
		StixBundle: benchBundle(uuid4()[:8]+".example", tlp.MarkingGreen), RecommendedAction: "block the domain", Contact: "soc@test.example"}
}

// publish seals payloads as sender and publishes them on the ingest
// subject of kind, asynchronously, waiting for every PubAck.
func (w *world) publish(sender string, kind tocsinv1.Kind, payloads ...proto.Message) []*tocsinv1.Envelope {
	w.t.Helper()
	token := map[tocsinv1.Kind]string{tocsinv1.Kind_KIND_ALERT: subjects.KindAlert, tocsinv1.Kind_KIND_ADVISORY: subjects.KindAdvisory,
		tocsinv1.Kind_KIND_RECEIPT: subjects.KindReceipt, tocsinv1.Kind_KIND_SIGHTING: subjects.KindSighting}[kind]
	var envs []*tocsinv1.Envelope
	var futures []jetstream.PubAckFuture
	for _, p := range payloads {
		env, err := w.signers[sender].Seal(kind, p)
		if err != nil {
			w.t.Fatal(err)
		}
		data, err := envelope.Marshal(env)
		if err != nil {
			w.t.Fatal(err)
		}
		msg := nats.NewMsg(subjects.Ingest(token, sender))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		f, err := w.js.PublishMsgAsync(msg)
		if err != nil {
			w.t.Fatal(err)
		}
		envs, futures = append(envs, env), append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			w.t.Fatalf("publish: %v", err)
		case <-time.After(30 * time.Second):
			w.t.Fatal("publish: no PubAck in 30s")
		}
	}
	return envs
}

// routed waits until the router has an outcome for every envelope and
// checks that each was routed.
func (w *world) routed(sender string, envs []*tocsinv1.Envelope) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	kv, err := w.js.KeyValue(ctx, broker.BucketRouted)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, env := range envs {
		for {
			o, err := alerts.GetOutcome(ctx, kv, sender, env.GetId())
			if err == nil && o != nil {
				if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
					w.t.Fatalf("%s: outcome %v (%v)", env.GetId(), o.GetState(), o.GetRejection())
				}
				break
			}
			if ctx.Err() != nil {
				w.t.Fatalf("no outcome for %s: %v", env.GetId(), err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// agentOptions are test defaults: quick pulls.
func (w *world) agentOptions(member, state string, sinks ...Sink) Options {
	return Options{CredsFile: w.creds[member], Servers: w.c.ClientURL(), StateDir: state, Sinks: sinks, FetchWait: 2 * time.Second,
		NATS: []nats.Option{nats.ReconnectWait(50 * time.Millisecond)}}
}

// start runs an agent until the test ends or the returned stop is called.
func (w *world) start(opts Options) (*Agent, func()) {
	w.t.Helper()
	a, err := New(opts, zaptest.NewLogger(w.t).Named(filepath.Base(opts.StateDir)))
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("agent %s: %v", a.Member(), err)
		}
	}
	w.t.Cleanup(stop)
	return a, stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsonlRecords reads every record of a JSONL sink's files, in order.
func jsonlRecords(t *testing.T, path string) []Record {
	t.Helper()
	files, _ := filepath.Glob(path + ".*")
	files = append(files, path)
	var out []Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		for dec.More() {
			var r Record
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, r)
		}
	}
	return out
}
