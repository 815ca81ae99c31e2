package mutualaid

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/regiontest"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestMutualAidAcrossRegions: on a 3 + 3 + 1 supercluster of stream sets
// (east holds the registry, so the AID bucket), each region runs its own
// mutual-aid service and router with its Region and no AidRegion. St.
// Mary, homed in west and connected there with its own credentials,
// requests incident response; Beacon IR, homed in east and connected
// there, is notified, lists the request, offers; St. Mary sees the offer
// and accepts it, and east's service counts the booked units; a short
// request of St. Mary's expires once, through east's ingest. Each aid
// message's outcome is read, through the member's own imports, from its
// home region's ROUTED. St. Mary's status report (routed in west, kept
// in SITUATION-west) is on the board asked in either region. With west
// stopped whole, Beacon IR still sees the request and its booking (east
// holds them), and the board asked in east names west as unreachable.
// With west back and east lost, St. Mary's next request is taken in west
// but applied only once east is back, and reading the bucket meanwhile
// says to try again.
func TestMutualAidAcrossRegions(t *testing.T) {
	cast, err := members.DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	homes := map[string]string{"st-mary": "west", "ir-firm": "east"}
	var accounts []*tocsinv1.Member
	for _, m := range cast {
		if h, ok := homes[m.GetId()]; ok {
			m.HomeRegion = h
			accounts = append(accounts, m)
		}
	}
	w := regiontest.Start(t, regiontest.Options{Regions: []broker.RegionSpec{{Name: "east"}, {Name: "west"}, {Name: "w", Nodes: 1}},
		Registry: "east", Members: accounts})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Members' credentials (their user key signs their envelopes) and the
	// services' signing keys, in the registry written in east.
	credsOf := map[string]string{}
	for _, m := range accounts {
		creds, pub, err := w.Auth.IssueMember(m)
		if err != nil {
			t.Fatal(err)
		}
		m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
		credsOf[m.GetId()] = filepath.Join(t.TempDir(), m.GetId()+".creds")
		if err := os.WriteFile(credsOf[m.GetId()], creds, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	signers := map[string]*envelope.Signer{}
	for _, r := range []string{"east", "west"} {
		m := &tocsinv1.Member{Id: "svc-aid-" + r, Name: "aid service of " + r, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}}
		if signers[r], _, err = envelope.NewMemberKey(m); err != nil {
			t.Fatal(err)
		}
		cast = append(cast, m)
	}
	reg, err := members.OpenBucket(ctx, w.JS("east"), records.BucketMembers, members.DefaultVocabulary(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	if _, err := reg.Seed(ctx, cast); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"east", "west"} {
		startRegionServices(ctx, t, w, r, signers[r])
	}

	connect := func(member string) *client.Client {
		t.Helper()
		c, err := client.Connect(ctx, client.Options{Servers: w.SC.ClientURL(homes[member]), CredsFile: credsOf[member]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	mary, beacon := connect("st-mary"), connect("ir-firm")
	publish := func(c *client.Client, kind tocsinv1.Kind, payload proto.Message) *tocsinv1.Envelope {
		t.Helper()
		var env *tocsinv1.Envelope
		testwait.Until(ctx, t, "publish", func() (err error) { env, err = c.Publish(ctx, kind, payload); return err })
		return env
	}
	send := func(c *client.Client, kind tocsinv1.Kind, payload proto.Message) string {
		t.Helper()
		env := publish(c, kind, payload)
		octx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		o, err := c.WaitOutcome(octx, env.GetId())
		if err != nil {
			t.Fatalf("%s of %s: %v", kind, c.Signer().Sender(), err)
		}
		if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			t.Fatalf("%s of %s: outcome %v: %v", kind, c.Signer().Sender(), o.GetState(), o.GetRejection().GetProblems())
		}
		return env.GetId()
	}
	askE := func(c *client.Client, subject string, in, out any) error {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return Ask(actx, c.Conn(), subject, in, out)
	}
	ask := func(c *client.Client, subject string, in, out any) {
		t.Helper()
		if err := askE(c, subject, in, out); err != nil {
			t.Fatal(err)
		}
	}

	req := send(mary, kReq, request(amber, nil, need("incident-response", 2)))
	// Its notice, sent by west's service, reaches Beacon IR's inbox in
	// east (INBOX-west's copy sourced into INBOX-east).
	testwait.Until(ctx, t, "the request's notice in INBOX-east", func() error {
		s, err := w.JS("east").Stream(ctx, "INBOX-east")
		if err != nil {
			return err
		}
		m, err := s.GetLastMsgForSubject(ctx, subjects.InRegion("west", subjects.Inbox("ir-firm")))
		if err != nil {
			return err
		}
		if env, err := envelope.Decode(m.Data, 0); err != nil || env.GetId() != req {
			return fmt.Errorf("the last notice is %v (%v), want the request %s", env.GetId(), err, req)
		}
		return nil
	})
	var open ListReply
	ask(beacon, QuerySubject("ir-firm", OpList), ListQuery{Open: true}, &open)
	if len(open.Requests) != 1 || open.Requests[0].ID != req {
		t.Fatalf("Beacon IR, in east, lists %d open requests, want St. Mary's %s from west", len(open.Requests), req)
	}
	off := send(beacon, kOff, offer(req, "incident-response", 2))
	var shown ShowReply
	ask(mary, QuerySubject("st-mary", OpShow), ShowQuery{ID: req}, &shown)
	if len(shown.Request.Offers) != 1 || shown.Request.Offers[0].ID != off {
		t.Fatalf("St. Mary, in west, sees the offers %+v, want Beacon IR's %s from east", shown.Request.Offers, off)
	}
	send(mary, kDec, decide(tocsinv1.AidAction_AID_ACTION_ACCEPT, req, off, 0))
	booked := func() error {
		var caps CapabilitiesReply
		if err := askE(beacon, QuerySubject("ir-firm", OpCapabilities), CapabilitiesQuery{}, &caps); err != nil {
			return err
		}
		i := slices.IndexFunc(caps.Capabilities, func(c *Capability) bool { return c.Type == "incident-response" })
		if i < 0 || caps.Capabilities[i].Free != caps.Capabilities[i].Capacity-2 {
			return fmt.Errorf("Beacon IR's capabilities %+v, want 2 incident-response units booked", caps.Capabilities)
		}
		var r ShowReply
		if err := askE(beacon, QuerySubject("ir-firm", OpShow), ShowQuery{ID: off}, &r); err != nil {
			return err
		}
		if r.Offer == nil || r.Offer.State != OfferAccepted {
			return fmt.Errorf("Beacon IR's offer as it sees it: %+v, want accepted", r.Offer)
		}
		return nil
	}
	if err := booked(); err != nil {
		t.Fatal(err)
	}
	// The whole trail is in the AID bucket's region's audit stream.
	audit, err := w.JS("east").Stream(ctx, "AID_AUDIT-east")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := audit.Info(ctx); err != nil || info.State.Msgs != 3 {
		t.Fatalf("AID_AUDIT-east: %v, %+v; want the request, the offer and the accept", err, info)
	}

	// A request's expiry, sent by both regions' services (the same message
	// id), goes to the AID bucket's region's ingest, where it is one
	// message, and is applied there.
	short := request(amber, nil, need("forensics", 1))
	short.ExpiresAt = timestamppb.New(time.Now().Add(3 * time.Second))
	expiring := send(mary, kReq, short)
	testwait.Until(ctx, t, "St. Mary's short request to expire", func() error {
		var r ShowReply
		ask(mary, QuerySubject("st-mary", OpShow), ShowQuery{ID: expiring}, &r)
		if last := r.Request.Timeline[len(r.Request.Timeline)-1]; r.Request.State != RequestExpired || last.Action != ActExpire {
			return fmt.Errorf("state %s, last step %+v", r.Request.State, last)
		}
		return nil
	})
	for region, want := range map[string]uint64{"east": 1, "west": 0} {
		st, err := w.JS("east").Stream(ctx, "INGEST-"+region)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(subjects.InRegion(region, subjects.Ingest(subjects.KindAid, "*"))))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for subject, c := range info.State.Subjects {
			if strings.HasPrefix(subject, subjects.InRegion(region, subjects.Ingest(subjects.KindAid, "svc-aid-"))) {
				n += c
			}
		}
		if n != want {
			t.Fatalf("INGEST-%s holds %d expiries (%v), want %d", region, n, info.State.Subjects, want)
		}
	}

	// A status report records no outcome: the board shows it.
	statusAt := publish(mary, tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DIVERTING, Note: "ambulances to riverside"}).GetId()
	for _, c := range []*client.Client{mary, beacon} {
		who := c.Signer().Sender()
		testwait.Until(ctx, t, "St. Mary diverting on the northeast board asked by "+who+" in "+homes[who], func() error {
			var b Board
			ask(c, SituationSubject(who), SituationQuery{Region: "northeast"}, &b)
			i := slices.IndexFunc(b.Facilities, func(f Facility) bool { return f.Member == "st-mary" })
			if i < 0 || b.Facilities[i].State != "diverting" || b.Facilities[i].Report != statusAt || len(b.Unreachable) != 0 {
				return fmt.Errorf("the board: %+v, want St. Mary diverting (%s)", b, statusAt)
			}
			return nil
		})
	}

	// West lost whole: east's members keep what east holds. Reads fail
	// for a moment while the meta group elects a leader again (when it
	// was in west): "JetStream system temporarily unavailable".
	w.SC.StopRegion("west")
	testwait.Until(ctx, t, "Beacon IR's booking seen in east with west away", booked)
	testwait.Until(ctx, t, "the northeast board in east naming west unreachable", func() error {
		var b Board
		if err := askE(beacon, SituationSubject("ir-firm"), SituationQuery{Region: "northeast"}, &b); err != nil {
			return err
		}
		if !slices.Equal(b.Unreachable, []string{"west"}) || slices.ContainsFunc(b.Facilities, func(f Facility) bool { return f.Member == "st-mary" }) {
			return fmt.Errorf("the board %+v, want west named unreachable", b)
		}
		return nil
	})

	// West back, east (the registry's region, so the AID bucket's) lost:
	// west takes St. Mary's request but cannot apply it, nor read the
	// bucket; once east is back the request is applied.
	if err := w.SC.RestartRegion("west"); err != nil {
		t.Fatal(err)
	}
	testwait.Until(ctx, t, "the northeast board in east whole again", func() error {
		var b Board
		if err := askE(beacon, SituationSubject("ir-firm"), SituationQuery{Region: "northeast"}, &b); err != nil {
			return err
		}
		if len(b.Unreachable) != 0 {
			return fmt.Errorf("the board %+v, want every region read", b)
		}
		return nil
	})
	w.SC.StopRegion("east")
	waiting := publish(mary, kReq, request(amber, nil, need("forensics", 1)))
	if err := askE(mary, QuerySubject("st-mary", OpShow), ShowQuery{ID: req}, &shown); err == nil || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("St. Mary's show with east away: %v, want refused with try again", err)
	}
	if err := w.SC.RestartRegion("east"); err != nil {
		t.Fatal(err)
	}
	octx, ocancel := context.WithTimeout(ctx, 2*time.Minute)
	defer ocancel()
	if o, err := mary.WaitOutcome(octx, waiting.GetId()); err != nil || o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("St. Mary's request sent while east was away, once east is back: %v %v", o, err)
	}
}

// startRegionServices runs region's mutual-aid service and router (for
// status reports) on a service connection to region, as its nodes do,
// with the registry read from region's copy.
func startRegionServices(ctx context.Context, t *testing.T, w *regiontest.World, region string, signer *envelope.Signer) {
	t.Helper()
	js := w.JS(region)
	var reg *members.Registry
	testwait.Until(ctx, t, "region "+region+"'s registry", func() (err error) {
		reg, err = members.OpenBucket(ctx, js, w.Sets[region].RegistryBucket(), members.DefaultVocabulary(), zaptest.NewLogger(t))
		return err
	})
	t.Cleanup(reg.Close)
	testwait.Until(ctx, t, "region "+region+"'s registry has its service", func() error {
		_, err := reg.Member(ctx, signer.Sender())
		return err
	})
	log := zaptest.NewLogger(t).Named(region)
	deps := Deps{JS: js, Registry: reg, Verifier: envelope.NewVerifier(reg, envelope.VerifyOptions{}), Signer: signer}
	s, err := New(ctx, deps, Options{Region: region}, log.Named("aid"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := alerts.New(ctx, alerts.Deps{JS: js, Registry: reg, Verifier: deps.Verifier, Signer: signer}, alerts.Options{Region: region}, log.Named("router"))
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []func(context.Context) error{s.Run, r.Run} {
		rctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = run(rctx) }()
		t.Cleanup(func() { stop(); <-done })
	}
}
