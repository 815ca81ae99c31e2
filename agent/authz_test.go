package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/reach"
	"github.com/tocsin-project/tocsin/stix"
)

// TestAgentWithMemberPermissions runs the agent with a member's .creds on
// a cluster in operator mode, where the server enforces the permissions:
// the agent reads, verifies, writes and sends receipts; a consumer deleted
// behind its back is re-created through the service; the liaison's reach
// works; and a member cannot ask for another member's consumer.
func TestAgentWithMemberPermissions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	a, err := auth.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	cast := []*tocsinv1.Member{
		member("st-mary", tocsinv1.Role_ROLE_MEMBER, "patient-care"),
		member("riverside", tocsinv1.Role_ROLE_MEMBER, "patient-care"),
		member("hhs", tocsinv1.Role_ROLE_LIAISON, "federal"),
	}
	credsDir := t.TempDir()
	credsPath := map[string]string{}
	for _, m := range cast {
		creds, pub, err := a.IssueMember(m)
		if err != nil {
			t.Fatal(err)
		}
		m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
		credsPath[m.Id] = filepath.Join(credsDir, m.Id+".creds")
		if err := os.WriteFile(credsPath[m.Id], creds, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kp, _ := nkeys.CreateUser()
	svcSigner, _ := envelope.NewSigner("svc-a", kp)
	svcMember := member("svc-a", tocsinv1.Role_ROLE_SERVICE)
	svcMember.Keys = []*tocsinv1.SigningKey{{PublicKey: svcSigner.KeyID()}}
	cast = append(cast, svcMember)
	jwts, err := a.AccountJWTs(cast)
	if err != nil {
		t.Fatal(err)
	}
	// The rows the agent needs (directory, consumer re-creation) are auth's
	// own exports and grants: the JWTs are used as auth makes them.
	sa := a.ServerAuth(jwts)
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{DataDir: t.TempDir(), BasePort: broker.RandomPort,
		Configure: func(_ int, o *broker.NodeOptions) { o.Auth = sa }}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	svcCreds, err := a.IssueService("agent-test-service")
	if err != nil {
		t.Fatal(err)
	}
	credsOpt, _ := auth.CredsOption(svcCreds)
	svc := func(url string) (*nats.Conn, jetstream.JetStream) {
		nc, err := nats.Connect(url, credsOpt, nats.MaxReconnects(-1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return nc, js
	}
	_, js := svc(c.ClientURL())
	testwait.Until(ctx, t, "provision", func() error {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		return broker.Provision(pctx, js, c.Replicas())
	})
	if err := c.WaitStreams(ctx, a.Account(), broker.StreamNames()); err != nil {
		t.Fatal(err)
	}
	reg, err := members.Open(ctx, js, members.DefaultVocabulary(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.Seed(ctx, cast); err != nil {
		t.Fatal(err)
	}
	validator, _ := stix.New(stix.Options{})
	for _, n := range c.Nodes() {
		nc, njs := svc(n.ClientURL())
		nreg, err := members.Open(ctx, njs, members.DefaultVocabulary(), zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		r, err := alerts.New(ctx, alerts.Deps{JS: njs, Registry: nreg, Verifier: envelope.NewVerifier(nreg, envelope.VerifyOptions{}),
			Validator: validator, Signer: svcSigner}, alerts.Options{}, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewService(ServiceDeps{Conn: nc, JS: njs, Registry: nreg}, ServiceOptions{}, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithCancel(context.Background())
		done := make(chan struct{}, 2)
		go func() { _ = r.Run(rctx); done <- struct{}{} }()
		go func() { _ = s.Run(rctx); done <- struct{}{} }()
		t.Cleanup(func() { rcancel(); <-done; <-done; nreg.Close() })
	}

	state := t.TempDir()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(state, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := New(Options{CredsFile: credsPath["riverside"], Servers: c.ClientURL(), StateDir: filepath.Join(state, "state"), Sinks: []Sink{j},
		FetchWait: 2 * time.Second}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- ag.Run(actx) }()
	defer func() { acancel(); <-agentDone }()
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return ag.HTTPState().State == "live" }))

	publisher, err := client.Connect(ctx, client.Options{Servers: c.ClientURL(), CredsFile: credsPath["st-mary"]})
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Close()
	first, err := publisher.Publish(ctx, tocsinv1.Kind_KIND_ALERT, alert("under permissions", "patient-care"))
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "the alert in the sink", testwait.True(func() bool {
		r := ag.recent.last(1)
		return len(r) == 1 && r[0].ID == first.GetId()
	}))

	// The consumer disappears behind the agent's back: it asks the
	// service (through the ORGS import) and carries on.
	if err := js.DeleteConsumer(ctx, "SECTORS", "riverside-sectors"); err != nil {
		t.Fatal(err)
	}
	second, err := publisher.Publish(ctx, tocsinv1.Kind_KIND_ALERT, alert("after the consumer was lost", "patient-care"))
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "the second alert in the sink", testwait.True(func() bool {
		r := ag.recent.last(1)
		return len(r) == 1 && r[0].ID == second.GetId()
	}))
	if n := len(jsonlRecords(t, filepath.Join(state, "alerts.jsonl"))); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}

	// The liaison's reach, with the liaison's own permissions.
	liaison, err := client.Connect(ctx, client.Options{Servers: c.ClientURL(), CredsFile: credsPath["hhs"]})
	if err != nil {
		t.Fatal(err)
	}
	defer liaison.Close()
	adv, err := liaison.Publish(ctx, tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "patch", Lane: tocsinv1.Lane_LANE_URGENT,
		Tlp: tocsinv1.TLP_TLP_GREEN, Sectors: []string{"patient-care"}})
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "riverside's delivered receipt in the reach report", testwait.True(func() bool {
		rep, err := reach.Of(ctx, liaison, adv.GetId())
		if err != nil {
			t.Logf("reach: %v", err)
			return false
		}
		return rep.Organisations == 2 && rep.Delivered == 1 && rep.Sectors[0].NotYet[0] == "st-mary"
	}))

	// A member cannot ask for another member's consumer: the server
	// refuses the publish.
	errs := make(chan error, 8)
	mallory, err := client.Connect(ctx, client.Options{Servers: c.ClientURL(), CredsFile: credsPath["st-mary"],
		NATS: []nats.Option{nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })}})
	if err != nil {
		t.Fatal(err)
	}
	defer mallory.Close()
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	if _, err := mallory.Conn().RequestWithContext(rctx, ConsumerSubject("riverside"), []byte(`{"name":"riverside-sectors","start_seq":1}`)); err == nil {
		t.Fatal("st-mary's request for riverside's consumer was answered")
	}
	select {
	case err := <-errs:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("async error %v, want a permissions violation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no permissions violation reported")
	}
}
