package site_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/cmd/tocsin/cli"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/site"
	"github.com/tocsin-project/tocsin/subjects"
)

// cutSite is a hub with the router and the services, and st-mary's site
// linked through a proxy the test cuts.
type cutSite struct {
	h   *hub
	p   *cutproxy.Proxy
	s   *site.Site
	dir string
}

func startCutSite(t testing.TB) *cutSite {
	t.Helper()
	p := cutproxy.New(t)
	h := startHubWith(t, func(l *broker.LeafOptions) { l.Advertise = p.Addr() })
	h.runRouter(0)
	p.Start(strings.TrimPrefix(h.c.Node(0).LeafURL(), "nats-leaf://"))
	cs := &cutSite{h: h, p: p, dir: t.TempDir()}
	cs.restart()
	cs.waitLink(t, true)
	return cs
}

// restart stops the site (if running) and starts it again on its data.
func (cs *cutSite) restart() {
	if cs.s != nil {
		cs.s.Exit()
	}
	cs.s = cs.h.startSiteVia("st-mary", "", cs.dir, "nats-leaf://"+cs.p.Addr())
}

func (cs *cutSite) waitLink(t testing.TB, want bool) {
	t.Helper()
	testwait.For(t, 30*time.Second, fmt.Sprintf("the site's link up=%v", want), testwait.True(func() bool { up, _ := cs.s.Link(); return up == want }))
}

// cut cuts the link and waits for the site to see it.
func (cs *cutSite) cut(t testing.TB) {
	t.Helper()
	cs.p.Cut()
	cs.waitLink(t, false)
}

// conn connects to the site as the member's CLI or console does.
func (cs *cutSite) conn(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(cs.s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitKept waits until the site has kept the directory and the member's
// own board (its prefetch as the link comes up), the board showing want.
func (cs *cutSite) waitKept(ctx context.Context, t testing.TB, want string) {
	t.Helper()
	nc := cs.conn(t)
	testwait.For(t, 30*time.Second, "the site's copy of the directory", testwait.True(func() bool {
		st, err := cs.s.Status(ctx)
		return err == nil && !st.DirectoryFetched.IsZero()
	}))
	testwait.For(t, 30*time.Second, "the hub's board at the site", func() error {
		b, err := askBoard(ctx, nc)
		if err != nil {
			return err
		}
		if want != "" && facility(t, b, want) == nil {
			return fmt.Errorf("the board shows %v, not %s yet", b.Facilities, want)
		}
		return nil
	})
}

// askBoard asks the member's own board where nc is connected.
func askBoard(ctx context.Context, nc *nats.Conn) (*mutualaid.Board, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var b mutualaid.Board
	err := mutualaid.Ask(ctx, nc, subjects.SvcSituation("st-mary"), mutualaid.SituationQuery{}, &b)
	return &b, err
}

// facility is member's row on b; the test fails on a member shown twice.
func facility(t testing.TB, b *mutualaid.Board, member string) *mutualaid.Facility {
	t.Helper()
	var found *mutualaid.Facility
	for i, f := range b.Facilities {
		if f.Member == member {
			if found != nil {
				t.Fatalf("%s is on the board twice: %+v", member, b.Facilities)
			}
			found = &b.Facilities[i]
		}
	}
	return found
}

// reportAtHub has member's status report recorded on the hub's board.
func (cs *cutSite) reportAtHub(ctx context.Context, t testing.TB, member string, state tocsinv1.FacilityState, note string) {
	t.Helper()
	_, msg := cs.h.seal(member, tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: state, Note: note})
	if _, err := cs.h.svcJS.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
}

// TestSiteServesTheBoardAndTheDirectoryFromItsCacheAcrossARestart: the
// site keeps the hub's board and the directory as its link comes up; cut,
// and restarted during the cut, it answers both from its copy on disk,
// saying so (the board's cached_at, the directory's Tocsin-Site-Cached)
// and since when; tocsin situation at the site prints it.
func TestSiteServesTheBoardAndTheDirectoryFromItsCacheAcrossARestart(t *testing.T) {
	cs := startCutSite(t)
	ctx := testContext(t, 150*time.Second)
	cs.reportAtHub(ctx, t, "acme-pharma", tocsinv1.FacilityState_FACILITY_STATE_DOWN, "ransomware")
	cs.waitKept(ctx, t, "acme-pharma")
	if b, err := askBoard(ctx, cs.conn(t)); err != nil || b.CachedAt != nil {
		t.Fatalf("the board at the linked site: cached_at %v, %v; want the hub's live answer", b.CachedAt, err)
	}
	kept := time.Now()
	cs.cut(t)
	cs.restart()
	cs.waitLink(t, false)
	nc := cs.conn(t)
	b, err := askBoard(ctx, nc)
	if err != nil {
		t.Fatalf("the board at the site restarted during the cut: %v", err)
	}
	if f := facility(t, b, "acme-pharma"); f == nil || f.State != "down" || b.CachedAt == nil || b.CachedAt.After(kept) {
		t.Fatalf("the board at the site restarted during the cut: %+v, cached_at %v (kept before %s)", b.Facilities, b.CachedAt, kept)
	}
	ans, err := nc.Request(subjects.SvcDirectory, []byte("{}"), 10*time.Second)
	if err != nil {
		t.Fatalf("the directory at the site restarted during the cut: %v", err)
	}
	if ans.Header.Get(site.HeaderCached) == "" {
		t.Fatalf("the directory's cached answer has no %s header", site.HeaderCached)
	}
	ms, err := records.FetchDirectory(ctx, nc)
	if err != nil || len(ms) < 2 {
		t.Fatalf("the directory at the site restarted during the cut: %d members, %v", len(ms), err)
	}
	if st, err := cs.s.Status(ctx); err != nil || st.DirectoryFetched.IsZero() || st.BoardKept.IsZero() {
		t.Fatalf("the restarted site's status says it never kept the directory or the board: %+v, %v", st, err)
	}
	if out := runCLI(t, cs.s, cs.h, "status"); !strings.Contains(out, "served during a cut: the directory as of") || strings.Contains(out, "never") {
		t.Fatalf("tocsin status at the restarted site during the cut:\n%s", out)
	}
	out := runCLI(t, cs.s, cs.h, "situation")
	if !strings.Contains(out, "cached at the site: the hub is unreachable; the board as of") || !strings.Contains(out, "acme-pharma") {
		t.Fatalf("tocsin situation at the site during the cut:\n%s", out)
	}
}

// TestSiteBoardShowsALocalStatusReportDuringACut: during a cut, a status
// report the member sends at its site is on the board the site serves at
// once, marked as queued at the site; a report the site's copy of the
// directory does not verify is not; after heal the hub's board has it and
// the site's board shows it once, no longer marked.
func TestSiteBoardShowsALocalStatusReportDuringACut(t *testing.T) {
	cs := startCutSite(t)
	ctx := testContext(t, 150*time.Second)
	cs.reportAtHub(ctx, t, "st-mary", tocsinv1.FacilityState_FACILITY_STATE_NORMAL, "all well")
	cs.waitKept(ctx, t, "st-mary")
	cs.cut(t)
	js := localJS(t, cs.s)
	nc := cs.conn(t)

	forger, err := envelope.NewSigner("st-mary", mustUser(t))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forger.Seal(tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DOWN, Note: "forged"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := envelope.Marshal(forged)
	if _, err := js.Publish(ctx, subjects.Ingest(subjects.KindStatus, "st-mary"), data); err != nil {
		t.Fatal(err)
	}
	b, err := askBoard(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	if f := facility(t, b, "st-mary"); f == nil || f.AtSite || f.Note != "all well" {
		t.Fatalf("with a forged report queued, the site's board shows %+v", f)
	}

	env, msg := cs.h.seal("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DEGRADED, Note: "wan cut"})
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	b, err = askBoard(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	f := facility(t, b, "st-mary")
	if f == nil || !f.AtSite || f.State != "degraded" || f.Report != env.GetId() || b.CachedAt == nil {
		t.Fatalf("the site's board during the cut shows %+v (cached_at %v), want the report queued at the site", f, b.CachedAt)
	}
	if acme := facility(t, b, "acme-pharma"); acme != nil {
		t.Fatalf("acme-pharma never reported, the board shows %+v", acme)
	}
	if out := runCLI(t, cs.s, cs.h, "situation"); !strings.Contains(out, "degraded (queued at the site)") {
		t.Fatalf("tocsin situation at the site during the cut:\n%s", out)
	}

	cs.p.Heal()
	testwait.For(t, 60*time.Second, "the hub's board with the report, at the site", func() error {
		b, err := askBoard(ctx, nc)
		if err != nil {
			return err
		}
		f := facility(t, b, "st-mary")
		if b.CachedAt != nil || f == nil || f.AtSite || f.Report != env.GetId() {
			return fmt.Errorf("the site's board shows %+v (cached_at %v)", f, b.CachedAt)
		}
		return nil
	})
}

// runCLI runs the member's tocsin at its site and wants exit 0.
func runCLI(t testing.TB, s *site.Site, h *hub, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--server", s.ClientURL(), "--creds", h.memberCreds["st-mary"], "--timeout", "20s")
	if code := cli.Main(args, &out, &errOut); code != 0 {
		t.Fatalf("tocsin %v: exit %d: %s %s", args, code, out.String(), errOut.String())
	}
	return out.String()
}
