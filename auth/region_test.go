package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/subjects"

	"github.com/nats-io/nats.go/jetstream"
)

// A member homed in a region publishes its usual ingest subject and its
// home region's INGEST takes it (its account imports the region's subject
// under the usual one); a member of no region is unchanged; neither may
// publish to a region's ingest directly.
func TestAMemberHomedInARegionPublishesIntoItsRegionsIngest(t *testing.T) {
	ac := startAuthCluster(t)
	ctx := testContext(t, 90*time.Second)
	ac.memberRecord("st-mary").HomeRegion = "east"
	ac.push()
	east := jetstream.StreamConfig{Name: subjects.RegionStream(subjects.StreamIngest, "east"), Subjects: []string{subjects.InRegion("east", subjects.IngestAll)},
		Replicas: ac.c.Replicas(), Storage: jetstream.FileStorage}
	if _, err := ac.svcJS.CreateOrUpdateStream(ctx, east); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ member, stream string }{{"st-mary", "INGEST-east"}, {"acme-pharma", subjects.StreamIngest}} {
		mc := ac.member(c.member, 1)
		testwait.For(t, 30*time.Second, c.member+"'s alert acknowledged by "+c.stream, func() error {
			ack, err := mc.js.Publish(ctx, subjects.Ingest(subjects.KindAlert, c.member), []byte("alert"))
			if err != nil {
				return err
			}
			if ack.Stream != c.stream {
				t.Fatalf("%s's alert taken by %s, want %s", c.member, ack.Stream, c.stream)
			}
			return nil
		})
		direct := subjects.InRegion("west", subjects.Ingest(subjects.KindAlert, c.member))
		if err := mc.nc.Publish(direct, []byte("alert")); err != nil {
			t.Fatal(err)
		}
		if err := mc.violation(direct, 5*time.Second); err != nil {
			t.Fatalf("%s publishing to a region's ingest directly: %v", c.member, err)
		}
	}
}

func TestAccountJWTsRefuseABadHomeRegion(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := testMembers()[0]
	if _, _, err := a.IssueMember(m); err != nil {
		t.Fatal(err)
	}
	m.HomeRegion = "east.1"
	if _, err := a.AccountJWTs(append(testMembers()[1:], m)); !errors.Is(err, auth.ErrInvalidMember) || !strings.Contains(err.Error(), "home region") {
		t.Fatalf("AccountJWTs with home region %q: %v, want ErrInvalidMember", m.HomeRegion, err)
	}
}

// A member homed in a region reads its outcomes from that region's
// ROUTED-<home> under ROUTED's subjects, and its live view imports every
// region's copies of its sectors and inbox; TOCSIN exports both.
func TestAMemberHomedInARegionReadsItsRegionsOutcomesAndEveryRegionsCopies(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ms := testMembers()
	m := ms[0]
	m.HomeRegion = "east"
	jwts, err := a.AccountJWTs(ms)
	if err != nil {
		t.Fatal(err)
	}
	_, own := decodeAccounts(t, jwts)
	ac := own[m.GetId()]
	if ac == nil {
		t.Fatalf("no account of %s", m.GetId())
	}
	imports := map[string]string{}
	for _, imp := range ac.Imports {
		imports[string(imp.Subject)] = string(imp.LocalSubject)
	}
	routed := "$JS.API.DIRECT.GET.KV_ROUTED-east.$KV.ROUTED-east." + m.GetId() + ".>"
	if local, ok := imports[routed]; !ok || local != auth.RoutedGetSubject(m.GetId(), ">") {
		t.Errorf("%s homed in east: import of %s as %q (%v), want as %s; imports %v", m.GetId(), routed, local, ok, auth.RoutedGetSubject(m.GetId(), ">"), imports)
	}
	want := []string{subjects.InRegion(subjects.AnyRegion, subjects.Inbox(m.GetId()))}
	for _, s := range m.GetSectors() {
		want = append(want, subjects.InRegion(subjects.AnyRegion, subjects.SectorAll(s)))
	}
	for _, s := range want {
		if _, ok := imports[s]; !ok {
			t.Errorf("%s homed in east does not import %s (its live view); imports %v", m.GetId(), s, imports)
		}
	}
	if _, ok := imports[subjects.Inbox(m.GetId())]; ok {
		t.Errorf("%s homed in east imports the single cluster's inbox subject too", m.GetId())
	}
}
