package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// aidCluster is a real cluster with the demo cast (each with issued
// .creds), the aid service on every node and the router on one.
type aidCluster struct {
	t     *testing.T
	c     *broker.Cluster
	creds map[string]string // member id -> .creds path
}

func newAidCluster(t *testing.T) *aidCluster {
	t.Helper()
	c := testcluster.Start(t)
	ac := &aidCluster{t: t, c: c, creds: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	authority, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cast, err := members.DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, m := range cast {
		creds, pub, err := authority.IssueMember(m)
		if err != nil {
			t.Fatal(err)
		}
		m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
		ac.creds[m.GetId()] = filepath.Join(dir, m.GetId()+".creds")
		if err := os.WriteFile(ac.creds[m.GetId()], creds, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kp, _ := nkeys.CreateUser()
	signer, err := envelope.NewSigner("svc-test", kp)
	if err != nil {
		t.Fatal(err)
	}
	cast = append(cast, &tocsinv1.Member{Id: "svc-test", Name: "services under test", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE},
		Keys: []*tocsinv1.SigningKey{{PublicKey: signer.KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}})
	js := testcluster.JetStream(t, c.ClientURL())
	reg, err := members.Open(ctx, js, members.DefaultVocabulary(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	if _, err := reg.Seed(ctx, cast); err != nil {
		t.Fatal(err)
	}
	deps := alerts.Deps{JS: js, Registry: reg, Verifier: envelope.NewVerifier(reg, envelope.VerifyOptions{}), Signer: signer}
	router, err := alerts.New(ctx, deps, alerts.Options{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, router.Run)
	for _, n := range c.Nodes() {
		njs := testcluster.JetStream(t, n.ClientURL())
		s, err := mutualaid.New(ctx, mutualaid.Deps{JS: njs, Registry: reg, Verifier: deps.Verifier, Signer: signer}, mutualaid.Options{}, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		runUntilCleanup(t, s.Run)
	}
	// The services subscribe as they start: wait until one answers, as an
	// operator waits for /readyz, before the story begins.
	testwait.For(t, 60*time.Second, "an aid service answering", func() error {
		var out, errOut bytes.Buffer
		if Main([]string{"aid", "capability", "list", "--server", c.ClientURL(), "--creds", ac.creds["ir-firm"], "--json", "--timeout", "5s"}, &out, &errOut) != ExitOK {
			return errors.New(strings.TrimSpace(errOut.String()))
		}
		return nil
	})
	return ac
}

// runUntilCleanup runs f until the test ends.
func runUntilCleanup(t *testing.T, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// run runs tocsin as member with --json and returns the exit code and
// what it printed.
func (ac *aidCluster) run(member string, args ...string) (int, string) {
	ac.t.Helper()
	var out, errOut bytes.Buffer
	code := Main(append(args, "--server", ac.c.ClientURL(), "--creds", ac.creds[member], "--json", "--timeout", "30s"), &out, &errOut)
	if code != ExitOK {
		ac.t.Logf("tocsin %s (as %s): exit %d: %s", strings.Join(args, " "), member, code, errOut.String())
	}
	return code, out.String()
}

// ok runs a command that must succeed and decodes its JSON into v.
func (ac *aidCluster) ok(v any, member string, args ...string) {
	ac.t.Helper()
	code, out := ac.run(member, args...)
	if code != ExitOK {
		ac.t.Fatalf("tocsin %s as %s: exit %d", strings.Join(args, " "), member, code)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		ac.t.Fatalf("tocsin %s: output is not the JSON expected: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAidCommandsPlayTheScenario drives steps 4, 5, 6 and 8 of the
// scenario through the command line, as the members would.
func TestAidCommandsPlayTheScenario(t *testing.T) {
	ac := newAidCluster(t)
	var caps mutualaid.CapabilitiesReply
	ac.ok(&caps, "ir-firm", "aid", "capability", "list")
	if len(caps.Capabilities) != 2 || caps.Capabilities[1].ID != "ir-firm/incident-response" || caps.Capabilities[1].Free != 4 {
		t.Fatalf("ir-firm's capabilities from the registry: %+v", caps.Capabilities)
	}
	var req mutualaid.Request
	ac.ok(&req, "st-mary", "aid", "request", "--need", "incident-response:2,ehr-downtime-support:1", "--urgency", "flash",
		"--tlp", "amber", "--expires", "48h", "--note", "ransomware from a vendor VPN; EHR down")
	if req.ID == "" || req.State != mutualaid.RequestOpen || !slices.Equal(req.Audience, []string{"downtime-staffing", "ir-firm"}) {
		t.Fatalf("request %+v", req)
	}
	var ir, dt mutualaid.Offer
	ac.ok(&ir, "ir-firm", "aid", "offer", req.ID, "--capability", "incident-response", "--qty", "2", "--eta", "4h")
	ac.ok(&dt, "downtime-staffing", "aid", "offer", req.ID, "--capability", "ehr-downtime-support", "--qty", "1")
	if ir.State != mutualaid.OfferOffered || time.Duration(ir.ETA) != 4*time.Hour || dt.ETA != mutualaid.Duration(2*time.Hour) {
		t.Fatalf("offers %+v %+v", ir, dt)
	}
	var accepted mutualaid.Offer
	ac.ok(&accepted, "st-mary", "aid", "accept", ir.ID)
	ac.ok(&accepted, "st-mary", "aid", "accept", dt.ID)
	if accepted.ID != dt.ID || accepted.State != mutualaid.OfferAccepted || accepted.Accepted != 1 {
		t.Fatalf("accept printed %+v", accepted)
	}
	var shown mutualaid.Request
	ac.ok(&shown, "st-mary", "aid", "show", req.ID)
	if shown.State != mutualaid.RequestFilled || len(shown.Timeline) != 5 || shown.Timeline[3].By != "st-mary" {
		t.Fatalf("shown %s with timeline %+v", shown.State, shown.Timeline)
	}
	code, out := ac.run("st-mary", "aid", "accept", ir.ID)
	if code != ExitRejected || !strings.Contains(out, `"illegal-transition"`) || !strings.Contains(out, `"state": "rejected"`) {
		t.Fatalf("a second accept: exit %d, %s", code, out)
	}
	if code, _ := ac.run("st-mary", "aid", "request", "--need", "forensics:1", "--tlp", "red"); code != ExitUsage {
		t.Fatalf("a red request without --to: exit %d, want usage", code)
	}
	if code, _ := ac.run("acme-pharma", "aid", "show", req.ID); code != ExitRejected {
		t.Fatalf("acme-pharma showed an amber request not meant for it: exit %d", code)
	}

	var f mutualaid.Facility
	ac.ok(&f, "st-mary", "status-report", "--state", "diverting", "--systems", "ehr,pacs", "--note", "ambulances to riverside")
	var board mutualaid.Board
	ac.ok(&board, "hilltop", "situation")
	if board.Region != "northeast" || len(board.Facilities) != 1 || board.Facilities[0].Member != "st-mary" || board.Facilities[0].State != "diverting" {
		t.Fatalf("board %+v", board)
	}

	for _, step := range []string{"mobilise", "arrive", "demobilise"} {
		ac.ok(&accepted, "ir-firm", "aid", step, ir.ID)
	}
	if accepted.State != mutualaid.OfferDemobilised {
		t.Fatalf("ir-firm's offer is %s after demobilising", accepted.State)
	}
	ac.ok(&shown, "st-mary", "aid", "close", req.ID)
	if shown.State != mutualaid.RequestClosed {
		t.Fatalf("request %s after close", shown.State)
	}
	var list mutualaid.ListReply
	ac.ok(&list, "ir-firm", "aid", "list", "--mine")
	if len(list.Requests) != 1 || list.Requests[0].State != mutualaid.RequestClosed {
		t.Fatalf("ir-firm's list: %+v", list.Requests)
	}
	var c mutualaid.Capability
	ac.ok(&c, "ir-firm", "aid", "capability", "add", "--type", "network-restoration", "--capacity", "3", "--regions", "northeast")
	if c.ID != "ir-firm/network-restoration" || c.State != mutualaid.CapabilityActive || c.Free != 3 {
		t.Fatalf("added %+v", c)
	}
	ac.ok(&c, "ir-firm", "aid", "capability", "remove", c.ID)
	if c.State != mutualaid.CapabilityRemoved {
		t.Fatalf("removed %+v", c)
	}
}

func TestParseNeeds(t *testing.T) {
	needs, err := parseNeeds([]string{"incident-response:2", " ehr-downtime-support ", ""})
	if err != nil || len(needs) != 2 || needs[0].GetQuantity() != 2 || needs[1].GetQuantity() != 1 || needs[1].GetCapability() != "ehr-downtime-support" {
		t.Fatalf("parseNeeds = %v, %v", needs, err)
	}
	for _, bad := range [][]string{nil, {"forensics:0"}, {"forensics:x"}, {"forensics:-1"}} {
		if _, err := parseNeeds(bad); exitCode(err) != ExitUsage {
			t.Errorf("parseNeeds(%q) = %v, want a usage error", bad, err)
		}
	}
}
