package site_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
)

// routerID is the service member the hub's router signs as.
const routerID = "svc-site-test"

// runRouter registers the members (with signers) and runs a router, the
// agent service (the member directory) and the mutual-aid service (the
// board) on the hub until the test ends, refusing envelopes more than
// maxSkew from their reference time.
func (h *hub) runRouter(maxSkew time.Duration) {
	h.t.Helper()
	ctx := testContext(h.t, 60*time.Second)
	reg, err := members.Open(ctx, h.svcJS, members.DefaultVocabulary(), zap.NewNop())
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(reg.Close)
	svc := &tocsinv1.Member{Id: routerID, Name: routerID, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}}
	kp, _ := nkeys.CreateUser()
	svcSigner, err := envelope.NewSigner(routerID, kp)
	if err != nil {
		h.t.Fatal(err)
	}
	svc.Keys = []*tocsinv1.SigningKey{{PublicKey: svcSigner.KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	cast := []*tocsinv1.Member{svc}
	for _, m := range h.members {
		m.Region = "northeast"
		m.Keys[0].NotBefore = timestamppb.New(time.Now().Add(-time.Hour))
		cast = append(cast, m)
	}
	if _, err := reg.Seed(ctx, cast); err != nil {
		h.t.Fatal(err)
	}
	validator, err := stix.New(stix.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	verifier := envelope.NewVerifier(reg, envelope.VerifyOptions{})
	r, err := alerts.New(ctx, alerts.Deps{JS: h.svcJS, Registry: reg, Verifier: verifier,
		Validator: validator, Signer: svcSigner}, alerts.Options{MaxSkew: maxSkew}, zaptest.NewLogger(h.t).Named("router"))
	if err != nil {
		h.t.Fatal(err)
	}
	svcAgent, err := agent.NewService(agent.ServiceDeps{Conn: h.svc, JS: h.svcJS, Registry: reg}, agent.ServiceOptions{}, zaptest.NewLogger(h.t).Named("agent-service"))
	if err != nil {
		h.t.Fatal(err)
	}
	aid, err := mutualaid.New(ctx, mutualaid.Deps{JS: h.svcJS, Registry: reg, Verifier: verifier, Signer: svcSigner}, mutualaid.Options{}, zaptest.NewLogger(h.t).Named("aid"))
	if err != nil {
		h.t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for name, run := range map[string]func(context.Context) error{"router": r.Run, "agent service": svcAgent.Run, "mutual aid (the board)": aid.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(rctx); err != nil && rctx.Err() == nil {
				h.t.Errorf("%s: %v", name, err)
			}
		}()
	}
	h.t.Cleanup(func() { cancel(); wg.Wait() })
}

// seal signs payload as member for publishing on its ingest subject.
func (h *hub) seal(member string, kind tocsinv1.Kind, p proto.Message) (*tocsinv1.Envelope, *nats.Msg) {
	h.t.Helper()
	env, err := h.signers[member].Seal(kind, p)
	if err != nil {
		h.t.Fatal(err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	token, _ := records.IngestToken(kind)
	msg := nats.NewMsg(subjects.Ingest(token, member))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
	return env, msg
}

// outcome reads the router's outcome of member's message id (nil: none).
func (h *hub) outcome(ctx context.Context, member, id string) (*tocsinv1.Outcome, error) {
	kv, err := h.svcJS.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		return nil, err
	}
	return records.GetOutcome(ctx, kv, member, id)
}

// recordsDone reports whether INGEST holds n status reports of st-mary
// and the router's records consumer has handled everything in INGEST.
func (h *hub) recordsDone(ctx context.Context, n uint64) error {
	if err := wantSubject(ctx, h, "tocsin.ingest.status.st-mary", n); err != nil {
		return err
	}
	c, err := h.svcJS.Consumer(ctx, "INGEST", alerts.DefaultDurable+"-records")
	if err != nil {
		return err
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if ci.NumPending != 0 || ci.NumAckPending != 0 {
		return fmt.Errorf("the router has %d reports pending, %d unacknowledged", ci.NumPending, ci.NumAckPending)
	}
	return nil
}

// wantSubject reports whether INGEST holds n messages on subject.
func wantSubject(ctx context.Context, h *hub, subject string, n uint64) error {
	st, err := h.svcJS.Stream(ctx, "INGEST")
	if err != nil {
		return err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return err
	}
	if got := info.State.Subjects[subject]; got != n {
		return fmt.Errorf("INGEST holds %d on %s, want %d", got, subject, n)
	}
	return nil
}
