package mutualaid

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// harness is a real 3-node cluster with the demo cast registered (each
// with a fresh key), an aid service on every node and a router (for status
// reports) on the first.
type harness struct {
	t       testing.TB
	c       *broker.Cluster
	js      jetstream.JetStream   // on the whole cluster
	node    []jetstream.JetStream // one per node, for spreading publishes
	reg     *members.Registry
	signers map[string]*envelope.Signer
	svc     []*runningService
	opts    Options
}

// runningService is one node's service and how to stop it.
type runningService struct {
	s    *Service
	stop func()
}

// newHarness starts the cluster, registers the cast plus extra members and
// starts a service on each node.
func newHarness(t testing.TB, opts Options, extra ...*tocsinv1.Member) *harness {
	t.Helper()
	c := testcluster.Start(t)
	h := &harness{t: t, c: c, js: testcluster.JetStream(t, c.ClientURL()), signers: map[string]*envelope.Signer{}, opts: opts}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg, err := members.Open(ctx, h.js, members.DefaultVocabulary(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	h.reg = reg
	cast, err := members.DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	cast = append(cast, extra...)
	for i := range c.Nodes() {
		cast = append(cast, &tocsinv1.Member{Id: fmt.Sprint("svc-aid-", i), Name: "aid service under test", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}})
	}
	for _, m := range cast {
		s, _, err := envelope.NewMemberKey(m)
		if err != nil {
			t.Fatal(err)
		}
		h.signers[m.GetId()] = s
	}
	if _, err := reg.Seed(ctx, cast); err != nil {
		t.Fatal(err)
	}
	for i, n := range c.Nodes() {
		h.node = append(h.node, testcluster.JetStream(t, n.ClientURL()))
		h.svc = append(h.svc, nil)
		h.startService(i)
	}
	h.startRouter()
	return h
}

// startService starts (or restarts) the service of node i, connected to
// that node only, as a node's in-process service connection is. A node
// just restarted may take a moment to serve JetStream: it is retried.
func (h *harness) startService(i int) {
	t := h.t
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		s   *Service
		reg *members.Registry
		js  jetstream.JetStream
		err error
	)
	testwait.Until(ctx, t, fmt.Sprintf("start the service on node %d", i), func() error {
		js = testcluster.JetStream(t, h.c.Node(i).ClientURL(), nats.MaxReconnects(0))
		if reg, err = members.Open(ctx, js, members.DefaultVocabulary(), zaptest.NewLogger(t)); err == nil {
			s, err = New(ctx, Deps{JS: js, Registry: reg, Verifier: envelope.NewVerifier(reg, envelope.VerifyOptions{}),
				Signer: h.signers[fmt.Sprint("svc-aid-", i)]}, h.opts, zaptest.NewLogger(t).Named(fmt.Sprint("node-", i)))
			if err == nil {
				return nil
			}
			reg.Close()
		}
		js.Conn().Close()
		return err
	})
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(rctx) }()
	stop := func() { rcancel(); <-done; reg.Close(); js.Conn().Close() }
	h.svc[i] = &runningService{s: s, stop: stop}
	t.Cleanup(stop)
}

// startRouter runs the alert router on node 0, for status reports (it
// needs no STIX validator for them).
func (h *harness) startRouter() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := alerts.New(ctx, alerts.Deps{JS: h.node[0], Registry: h.reg, Verifier: envelope.NewVerifier(h.reg, envelope.VerifyOptions{}),
		Signer: h.signers["svc-aid-0"]}, alerts.Options{}, zaptest.NewLogger(h.t).Named("router"))
	if err != nil {
		h.t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(rctx) }()
	h.t.Cleanup(func() { rcancel(); <-done })
}

// send seals payload as sender and publishes it on sender's aid ingest
// subject (status reports on the status subject) through node n (any node
// when n < 0).
func (h *harness) send(n int, sender string, kind tocsinv1.Kind, payload proto.Message) *tocsinv1.Envelope {
	h.t.Helper()
	env, err := h.signers[sender].Seal(kind, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	token := subjects.KindAid
	if kind == tocsinv1.Kind_KIND_STATUS_REPORT {
		token = subjects.KindStatus
	}
	h.publishOn(n, subjects.Ingest(token, sender), env)
	return env
}

// publishOn publishes a sealed envelope on subject through node n (any
// node when n < 0), retrying while the cluster briefly has no responder.
func (h *harness) publishOn(n int, subject string, env *tocsinv1.Envelope) {
	h.t.Helper()
	data, err := envelope.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := h.js
	if n >= 0 {
		js = h.node[n%len(h.node)]
	}
	testwait.Until(ctx, h.t, "publish "+subject, func() error {
		_, err := js.Publish(ctx, subject, data, jetstream.WithMsgID(env.GetId()))
		return err
	})
}

// outcome polls until the message has an outcome.
func (h *harness) outcome(sender, id string) *tocsinv1.Outcome {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var kv jetstream.KeyValue
	var o *tocsinv1.Outcome
	testwait.Until(ctx, h.t, fmt.Sprintf("an outcome for %s/%s", sender, id), func() (err error) {
		if kv == nil {
			if kv, err = h.js.KeyValue(ctx, records.BucketRouted); err != nil {
				return err
			}
		}
		if o, err = records.GetOutcome(ctx, kv, sender, id); err == nil && o == nil {
			err = errors.New("none yet")
		}
		return err
	})
	return o
}

// ok sends and fails the test unless the service applies the message.
func (h *harness) ok(sender string, kind tocsinv1.Kind, payload proto.Message) *tocsinv1.Envelope {
	h.t.Helper()
	env := h.send(-1, sender, kind, payload)
	if o := h.outcome(sender, env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		h.t.Fatalf("%s by %s: outcome %v, want routed: %v", kind, sender, o.GetState(), o.GetRejection().GetProblems())
	}
	return env
}

// refused sends and returns the rejection's main problem, failing the test
// unless it is refused with code.
func (h *harness) refused(sender string, kind tocsinv1.Kind, payload proto.Message, code tocsinv1.RejectionCode) *tocsinv1.Problem {
	h.t.Helper()
	env := h.send(-1, sender, kind, payload)
	return h.wantRejected(sender, env.GetId(), code)
}

func (h *harness) wantRejected(sender, id string, code tocsinv1.RejectionCode) *tocsinv1.Problem {
	h.t.Helper()
	o := h.outcome(sender, id)
	ps := o.GetRejection().GetProblems()
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED || len(ps) == 0 || ps[0].GetCode() != code {
		h.t.Fatalf("message %s of %s: outcome %v %v, want rejected %s", id, sender, o.GetState(), ps, codes.Name(code))
	}
	return ps[0]
}

// ask sends a read request as member, retrying while no service answers.
func (h *harness) ask(member string, op Op, in, out any) error {
	h.t.Helper()
	subject := QuerySubject(member, op)
	if op == "situation" {
		subject = SituationSubject(member)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := Ask(ctx, h.js.Conn(), subject, in, out)
		if !errors.Is(err, nats.ErrNoResponders) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// show returns a request as member sees it, failing the test on error.
func (h *harness) show(member, id string) *ShowReply {
	h.t.Helper()
	var r ShowReply
	if err := h.ask(member, OpShow, ShowQuery{ID: id}, &r); err != nil {
		h.t.Fatalf("show %s as %s: %v", id, member, err)
	}
	return &r
}

// capability returns a responder's capability by id as it stands.
func (h *harness) capability(responder, id string) *Capability {
	h.t.Helper()
	var r CapabilitiesReply
	if err := h.ask(responder, OpCapabilities, CapabilitiesQuery{}, &r); err != nil {
		h.t.Fatal(err)
	}
	for _, c := range r.Capabilities {
		if c.ID == id {
			return c
		}
	}
	h.t.Fatalf("%s has no capability %s", responder, id)
	return nil
}

// messages returns the envelopes stored on a subject of a stream.
func (h *harness) messages(stream, filter string) []*tocsinv1.Envelope {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c jetstream.Consumer
	var info *jetstream.ConsumerInfo
	testwait.Until(ctx, h.t, fmt.Sprintf("read %s %s", stream, filter), func() (err error) {
		if c, err = h.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}}); err == nil {
			info, err = c.Info(ctx)
		}
		return err
	})
	var envs []*tocsinv1.Envelope
	for len(envs) < int(info.NumPending) {
		batch, err := c.Fetch(int(info.NumPending)-len(envs), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			h.t.Fatal(err)
		}
		for m := range batch.Messages() {
			env, err := envelope.Decode(m.Data(), 0)
			if err != nil {
				h.t.Fatalf("%s holds an undecodable message: %v", m.Subject(), err)
			}
			envs = append(envs, env)
		}
		if err := batch.Error(); err != nil && ctx.Err() != nil {
			h.t.Fatal(err)
		}
	}
	return envs
}

// inboxIDs returns the envelope ids in a member's inbox.
func (h *harness) inboxIDs(member string) map[string]bool {
	ids := map[string]bool{}
	for _, env := range h.messages(subjects.StreamInbox, subjects.Inbox(member)) {
		ids[env.GetId()] = true
	}
	return ids
}

// Payload builders.

func request(tlpLevel tocsinv1.TLP, to []string, needs ...*tocsinv1.AidNeed) *tocsinv1.AidRequest {
	return &tocsinv1.AidRequest{Needs: needs, Urgency: tocsinv1.Lane_LANE_FLASH, Tlp: tlpLevel, To: to, Note: "ransomware, EHR down", Exercise: true}
}

func need(capability string, qty uint32) *tocsinv1.AidNeed {
	return &tocsinv1.AidNeed{Capability: capability, Quantity: qty}
}

func offer(req, capability string, qty uint32) *tocsinv1.AidOffer {
	return &tocsinv1.AidOffer{RequestId: req, Capability: capability, Quantity: qty, Eta: durationpb.New(4 * time.Hour)}
}

func decide(a tocsinv1.AidAction, req, offerID string, qty uint32) *tocsinv1.AidDecision {
	return &tocsinv1.AidDecision{RequestId: req, OfferId: offerID, Action: a, Quantity: qty}
}

// responder is an extra responder in the northeast with one capability.
func responder(id, capType string, capacity uint32) *tocsinv1.Member {
	return &tocsinv1.Member{
		Id: id, Name: "Responder " + id, Sectors: []string{"health-it"}, Region: "northeast",
		Roles:        []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER},
		Capabilities: []*tocsinv1.AidCapability{{Id: id + "/" + capType, Type: capType, Capacity: capacity, Regions: []string{"northeast"}}},
	}
}

const (
	kReq  = tocsinv1.Kind_KIND_AID_REQUEST
	kOff  = tocsinv1.Kind_KIND_AID_OFFER
	kDec  = tocsinv1.Kind_KIND_AID_DECISION
	kCap  = tocsinv1.Kind_KIND_CAPABILITY
	amber = tocsinv1.TLP_TLP_AMBER
)
