package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/pattern"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// harness is a real 3-node cluster with the demo cast registered (each
// with a fresh key) and routers running on some of the nodes.
type harness struct {
	t       testing.TB
	c       *broker.Cluster
	js      jetstream.JetStream
	reg     *members.Registry
	signers map[string]*envelope.Signer
}

func newHarness(t *testing.T, routers int, opts Options) *harness {
	t.Helper()
	return newHarnessWith(t, routers, opts, nil)
}

// newHarnessWith is newHarness with extra members registered besides the
// demo cast, before any router starts.
func newHarnessWith(t testing.TB, routers int, opts Options, extra []*tocsinv1.Member) *harness {
	t.Helper()
	c := testcluster.Start(t)
	h := &harness{t: t, c: c, js: testcluster.JetStream(t, c.ClientURL()), signers: map[string]*envelope.Signer{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+time.Duration(len(extra))*30*time.Millisecond) // registering takes its time
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
	cast = append(cast, &tocsinv1.Member{Id: "svc-test", Name: "router under test", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}})
	cast = append(cast, extra...)
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
	for i := range routers {
		h.startRouter(i, opts)
	}
	return h
}

// startRouter starts a router on node i (modulo the cluster's size),
// stopped when the test ends.
func (h *harness) startRouter(i int, opts Options) {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	validator, err := stix.New(stix.Options{PatternCheck: func(p string) error { _, err := pattern.Parse(p); return err }})
	if err != nil {
		t.Fatalf("validator: %v (run 'make schemas')", err)
	}
	node := h.c.Node(i % len(h.c.Nodes()))
	js := testcluster.JetStream(t, node.ClientURL())
	nodeReg, err := members.Open(ctx, js, members.DefaultVocabulary(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nodeReg.Close)
	r, err := New(ctx, Deps{JS: js, Registry: nodeReg, Verifier: envelope.NewVerifier(nodeReg, envelope.VerifyOptions{}),
		Validator: validator, Signer: h.signers["svc-test"]}, opts, zaptest.NewLogger(t).Named(fmt.Sprint("router-", i)))
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(rctx) }()
	t.Cleanup(func() { rcancel(); <-done })
}

// publish seals payload as sender and publishes it on the ingest subject
// of kind token, with the envelope id as message id.
func (h *harness) publish(sender, token string, kind tocsinv1.Kind, payload proto.Message, opts ...envelope.SealOption) *tocsinv1.Envelope {
	h.t.Helper()
	env, err := h.signers[sender].Seal(kind, payload, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.publishEnv(sender, token, env)
	return env
}

func (h *harness) publishEnv(sender, token string, env *tocsinv1.Envelope) {
	h.t.Helper()
	data, err := proto.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	h.publishRaw(subjects.Ingest(token, sender), env.GetId(), data)
}

// publishRaw publishes and waits for the PubAck, retrying (same message
// id, so JetStream drops a copy) while a leader election after a node loss
// settles, as a real publisher does.
func (h *harness) publishRaw(subject, msgID string, data []byte) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := h.js.Publish(actx, subject, data, opts...)
		acancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			h.t.Fatalf("publish %s: %v", subject, err)
		}
	}
}

// outcome polls until the message has an outcome.
func (h *harness) outcome(sender, id string) *tocsinv1.Outcome {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := h.js.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		h.t.Fatal(err)
	}
	var o *tocsinv1.Outcome
	testwait.Until(ctx, h.t, fmt.Sprintf("an outcome for %s/%s", sender, id), func() (err error) {
		if o, err = records.GetOutcome(ctx, kv, sender, id); err == nil && o == nil {
			err = errors.New("none yet")
		}
		return err
	})
	return o
}

// messages returns the envelopes in stream whose subject matches filter,
// with the Nats-Msg-Id of each. Under load a JetStream API request may
// briefly find no responder (a leader change): the read is retried from
// the start until a deadline.
func (h *harness) messages(stream, filter string) (envs []*tocsinv1.Envelope, ids []string) {
	h.t.Helper()
	testwait.For(h.t, 20*time.Second, fmt.Sprintf("read %s %s", stream, filter), func() (err error) {
		envs, ids, err = h.tryMessages(stream, filter)
		return err
	})
	return envs, ids
}

func (h *harness) tryMessages(stream, filter string) (envs []*tocsinv1.Envelope, ids []string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := h.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, nil, err
	}
	pending := int(info.NumPending)
	for len(envs) < pending {
		batch, err := c.Fetch(pending-len(envs), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, nil, err
		}
		for m := range batch.Messages() {
			env, err := envelope.Decode(m.Data(), 0)
			if err != nil {
				h.t.Fatalf("%s holds an undecodable message: %v", m.Subject(), err)
			}
			envs = append(envs, env)
			ids = append(ids, m.Headers().Get(jetstream.MsgIDHeader))
		}
		if batch.Error() != nil {
			return nil, nil, batch.Error()
		}
	}
	return envs, ids, nil
}

// rejections returns the problem codes of the rejections sent to member
// about message id, polling until there is one.
func (h *harness) rejection(member, id string) *tocsinv1.Rejection {
	h.t.Helper()
	var rej *tocsinv1.Rejection
	testwait.For(h.t, 30*time.Second, fmt.Sprintf("a rejection of %s sent to %s", id, member), testwait.True(func() bool {
		envs, _ := h.messages(subjects.StreamRejections, subjects.Rejection(member))
		for _, env := range envs {
			rej = &tocsinv1.Rejection{}
			if err := proto.Unmarshal(env.GetPayload(), rej); err != nil {
				h.t.Fatal(err)
			}
			if rej.GetRefId() == id {
				return true
			}
		}
		return false
	}))
	return rej
}

// bundle is a realistic STIX 2.1 bundle: a C2 indicator, the ransomware it
// indicates, and the relationship, each marked with the TLP given.
func bundle(ip string, level tlp.Level) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	ind, mal := "indicator--"+ids.V4(), "malware--"+ids.V4()
	marking := []string{tlp.MarkingID(level)}
	objs := []map[string]any{
		{"type": "indicator", "spec_version": "2.1", "id": ind, "created": now, "modified": now, "name": "C2 address " + ip,
			"pattern": fmt.Sprintf("[ipv4-addr:value = '%s']", ip), "pattern_type": "stix", "valid_from": now,
			"indicator_types": []string{"malicious-activity"}, "object_marking_refs": marking},
		{"type": "malware", "spec_version": "2.1", "id": mal, "created": now, "modified": now, "name": "BlackHarbor ransomware",
			"is_family": true, "malware_types": []string{"ransomware"}, "object_marking_refs": marking},
		{"type": "relationship", "spec_version": "2.1", "id": "relationship--" + ids.V4(), "created": now, "modified": now,
			"relationship_type": "indicates", "source_ref": ind, "target_ref": mal, "object_marking_refs": marking},
	}
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": objs})
	return data
}

// indicatorID returns the id of the first indicator in a bundle.
func indicatorID(t *testing.T, b []byte) string {
	var v struct {
		Objects []struct{ Type, ID string } `json:"objects"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(v.Objects, func(o struct{ Type, ID string }) bool { return o.Type == "indicator" })
	return v.Objects[i].ID
}

// waitFor is testwait.For with the harness's 30s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	testwait.For(t, 30*time.Second, what, testwait.True(cond))
}

// rawMessages returns the payloads in stream whose subject matches filter
// (for streams that do not hold envelopes, such as OPS).
func (h *harness) rawMessages(stream, filter string) ([][]byte, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := h.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out [][]byte
	for len(out) < int(info.NumPending) {
		batch, err := c.Fetch(int(info.NumPending)-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			h.t.Fatal(err)
		}
		for m := range batch.Messages() {
			out = append(out, m.Data())
		}
	}
	return out, nil
}
