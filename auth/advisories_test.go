package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/tocsin-project/tocsin/auth"
)

// TestConnectionsWithoutValidCredentialsAreRefused: no credentials, a
// password, another authority's credentials and a bearer token (no
// signature over the server's nonce) are all refused by every node.
func TestConnectionsWithoutValidCredentialsAreRefused(t *testing.T) {
	ac := startAuthCluster(t)
	foreign, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	foreignCreds, _, err := foreign.IssueMember(testMembers()[0])
	if err != nil {
		t.Fatal(err)
	}
	bearer := bearerToken(t, ac.dir, ac.a.Account())
	cases := map[string][]nats.Option{
		"no credentials":                   nil,
		"user and password":                {nats.UserInfo("st-mary", "secret")},
		"another authority's member creds": {mustCredsOption(t, foreignCreds)},
		"bearer token":                     {nats.UserJWT(func() (string, error) { return bearer, nil }, func([]byte) ([]byte, error) { return nil, nil })},
	}
	for name, opts := range cases {
		for i := range 3 {
			nc, err := nats.Connect(ac.c.Node(i).ClientURL(), append(opts, nats.NoReconnect())...)
			if err == nil {
				nc.Close()
				t.Fatalf("%s: node %d let the connection in", name, i+1)
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("%s: node %d: %v, want an authorization violation", name, i+1, err)
			}
		}
	}
}

// bearerToken signs, with the TOCSIN service key read from the authority's
// files, a user JWT that needs no signature over the nonce.
func bearerToken(t *testing.T, dir, account string) string {
	t.Helper()
	signer := readSeedFile(t, dir, auth.ServiceSignerFile)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.IssuerAccount = account
	uc.BearerToken = true
	token, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func mustCredsOption(t *testing.T, creds []byte) nats.Option {
	t.Helper()
	opt, err := auth.CredsOption(creds)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// TestNatsRequestInfoCannotBeSpoofed (CVE-2026-33223, GHSA-pwx7-fx9r-hr4h):
// a member cannot pass itself off as another through the Nats-Request-Info
// header; what the router reads never carries the forged identity.
func TestNatsRequestInfoCannotBeSpoofed(t *testing.T) {
	ac := startAuthCluster(t)
	ctx := testContext(t, 30*time.Second)
	mary := ac.member("st-mary", 1)
	victimAccount, err := ac.a.MemberAccount(victim)
	if err != nil {
		t.Fatal(err)
	}
	forged := `{"acc":"` + victimAccount + `","user":"` + victim + `","svc":"` + ac.a.Account() + `"}`
	msg := nats.NewMsg("tocsin.ingest.alert.st-mary")
	msg.Header.Set("Nats-Request-Info", forged)
	msg.Data = []byte("forged identity")
	if _, err := mary.js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("publish: %v", err)
	}
	ingest, err := ac.svcJS.Stream(ctx, "INGEST")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ingest.GetLastMsgForSubject(ctx, "tocsin.ingest.alert.st-mary")
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.Data) != "forged identity" {
		t.Fatalf("stored %q", stored.Data)
	}
	if got := stored.Header.Get("Nats-Request-Info"); strings.Contains(got, victim) {
		t.Fatalf("the router would read a forged identity: Nats-Request-Info %q", got)
	}
}

// TestMessageTraceCannotTargetForbiddenSubjects (CVE-2026-33249,
// GHSA-8m2x-3m6q-6w8j): a trace destination a member may not publish to
// is refused by the server and gets nothing, while the service's trace to a subject it may use arrives
// (so the check can fail).
func TestMessageTraceCannotTargetForbiddenSubjects(t *testing.T) {
	ac := startAuthCluster(t)
	ctx := testContext(t, 30*time.Second)
	mary := ac.member("st-mary", 1)
	acme := ac.member(victim, 2)
	control, err := ac.svc.SubscribeSync("trace.control")
	if err != nil {
		t.Fatal(err)
	}
	stolen, err := acme.nc.SubscribeSync(auth.InboxPrefix(victim) + ".trace")
	if err != nil {
		t.Fatal(err)
	}
	inTocsin, err := ac.svc.SubscribeSync("tocsin.inbox." + victim)
	if err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{acme.nc, ac.svc} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	traced := func(nc *nats.Conn, id, dest string) {
		t.Helper()
		msg := nats.NewMsg("tocsin.ingest.alert.st-mary")
		msg.Header.Set("Nats-Trace-Dest", dest)
		msg.Header.Set(jetstream.MsgIDHeader, id)
		if err := nc.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	traced(mary.nc, "t1", auth.InboxPrefix(victim)+".trace")
	traced(mary.nc, "t2", "tocsin.inbox."+victim)
	traced(ac.svc, "t3", "trace.control")
	for _, dest := range []string{auth.InboxPrefix(victim) + ".trace", "tocsin.inbox." + victim} {
		if err := mary.violation(dest, violationWait); err != nil {
			t.Fatalf("trace destination: %v", err)
		}
	}
	if _, err := control.NextMsgWithContext(ctx); err != nil {
		t.Fatalf("the service's trace: %v", err)
	}
	for name, sub := range map[string]*nats.Subscription{"another member's inbox": stolen, "a TOCSIN subject": inTocsin} {
		if m, err := sub.NextMsg(300 * time.Millisecond); err == nil {
			t.Fatalf("st-mary's trace delivered to %s: %q", name, m.Data)
		}
	}
}

// TestReplySubjectsCannotWriteIntoTocsin: the reply subject of a request is
// chosen by the requester and the server publishes the answer there with
// its own rights. Each member has its own account, so the answers stay there: a
// member cannot make JetStream write consumer info, pulled messages or
// direct gets into the registry, another member's inbox or the router's
// outcomes. Each request is sent once with its own inbox too (it works).
func TestReplySubjectsCannotWriteIntoTocsin(t *testing.T) {
	ac := startAuthCluster(t)
	ctx := testContext(t, 30*time.Second)
	mary := ac.member("st-mary", 1)
	if _, err := ac.svcJS.Publish(ctx, "tocsin.sector.patient-care.flash", []byte("pc")); err != nil {
		t.Fatal(err)
	}
	routed, err := ac.svcJS.KeyValue(ctx, "ROUTED")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := routed.Put(ctx, "st-mary.m1", []byte("routed")); err != nil {
		t.Fatal(err)
	}
	requests := []struct{ subject, body string }{
		{"$JS.API.CONSUMER.INFO.SECTORS." + auth.SectorConsumer("st-mary", "patient-care"), ""},
		{"$JS.API.CONSUMER.MSG.NEXT.SECTORS." + auth.SectorConsumer("st-mary", "patient-care"), `{"batch":1,"no_wait":true}`},
		{auth.RoutedGetSubject("st-mary", "m1"), ""},
	}
	targets := []string{"$KV.MEMBERS." + victim, "tocsin.inbox." + victim, "$KV.ROUTED." + victim + ".m1", "tocsin.ingest.alert." + victim}
	for _, r := range requests {
		if _, err := mary.nc.RequestWithContext(ctx, r.subject, []byte(r.body)); err != nil {
			t.Fatalf("%s with its own inbox: %v", r.subject, err)
		}
		for _, target := range targets {
			if err := mary.nc.PublishRequest(r.subject, target, []byte(r.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A round trip through the same path after the injections: anything
	// they wrote is stored by now.
	if _, err := mary.nc.RequestWithContext(ctx, requests[0].subject, nil); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"INBOX", "INGEST", "KV_MEMBERS", "KV_ROUTED"} {
		s, err := ac.svcJS.Stream(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatal(err)
		}
		for subj := range info.State.Subjects {
			if strings.Contains(subj, victim) {
				t.Fatalf("stream %s now holds %s, written by st-mary's reply subjects", st, subj)
			}
		}
	}
}
