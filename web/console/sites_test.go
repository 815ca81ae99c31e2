package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/webtest"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/sitewatch"
)

const siteHeartbeat = 300 * time.Millisecond

// siteLinks are real leaf links, each through a proxy that can cut it,
// to a nats-server whose leaf connections a sitewatch watcher records
// into the web face's cluster (what every hub node with a leaf listener
// does).
type siteLinks struct {
	t       *testing.T
	hub     *server.Server
	proxies map[string]*cutproxy.Proxy
}

func startSiteLinks(t *testing.T, e *webtest.Env) *siteLinks {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, cfg := range broker.KVConfigs(e.Cluster.Replicas()) {
		if cfg.Bucket == records.BucketSites {
			testwait.Until(ctx, t, "create the bucket "+cfg.Bucket, func() error { _, err := e.JS.CreateOrUpdateKeyValue(ctx, cfg); return err })
		}
	}
	hub, err := server.NewServer(&server.Options{ServerName: "hub", Host: "127.0.0.1", Port: -1, NoSigs: true,
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: -1, NoAdvertise: true}})
	if err != nil {
		t.Fatal(err)
	}
	hub.Start()
	t.Cleanup(hub.Shutdown)
	if !hub.ReadyForConnections(10 * time.Second) {
		t.Fatal("the hub server did not start")
	}
	w, err := sitewatch.New(sitewatch.Deps{Server: hub, JS: e.JS, Node: "hub"}, sitewatch.Options{Interval: 100 * time.Millisecond, Heartbeat: siteHeartbeat}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(run) }()
	t.Cleanup(func() { stop(); <-done })
	return &siteLinks{t: t, hub: hub, proxies: map[string]*cutproxy.Proxy{}}
}

// link starts member's site: a nats-server named site-<member>-0001
// dialling the hub as a leaf node through a proxy of its own.
func (l *siteLinks) link(member string) {
	l.t.Helper()
	v, err := l.hub.Varz(nil)
	if err != nil {
		l.t.Fatal(err)
	}
	p := cutproxy.New(l.t)
	p.Start(fmt.Sprintf("127.0.0.1:%d", v.LeafNode.Port))
	l.proxies[member] = p
	u, _ := url.Parse("nats-leaf://" + p.Addr())
	s, err := server.NewServer(&server.Options{ServerName: "site-" + member + "-0001", Host: "127.0.0.1", Port: -1, NoSigs: true,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}}})
	if err != nil {
		l.t.Fatal(err)
	}
	s.Start()
	l.t.Cleanup(s.Shutdown)
}

type sitesAnswer struct {
	Scope string                `json:"scope"`
	Sites []records.SiteContact `json:"sites"`
}

// sitesOf is GET api/sites as member.
func sitesOf(t *testing.T, e *webtest.Env, member string) (sitesAnswer, error) {
	resp, data := e.Do(member, http.MethodGet, "/console/api/sites", nil, nil)
	var a sitesAnswer
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("api/sites as %s: %d %s", member, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	return a, nil
}

// siteOf waits until api/sites as member shows site's record satisfying
// cond.
func siteOf(t *testing.T, e *webtest.Env, member, site string, cond func(records.SiteContact) bool) records.SiteContact {
	t.Helper()
	var got records.SiteContact
	testwait.For(t, 20*time.Second, member+" seeing "+site+"'s site", func() error {
		a, err := sitesOf(t, e, member)
		if err != nil {
			return err
		}
		for _, c := range a.Sites {
			if c.Member == site && cond(c) {
				got = c
				return nil
			}
		}
		return fmt.Errorf("%+v", a)
	})
	return got
}

// TestSitesShowsAMemberItsOwnSiteAndTheLiaisonEvery: st-mary and
// riverside each have a site linked; each member sees its own site's link
// and never the other's, a member without a site sees none, the liaison
// sees both. St. Mary's link cut, its record says down since the cut and
// its last contact stops moving, while Riverside's stays up.
func TestSitesShowsAMemberItsOwnSiteAndTheLiaisonEvery(t *testing.T) {
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	links := startSiteLinks(t, e)
	links.link("st-mary")
	links.link("riverside")
	up := siteOf(t, e, "st-mary", "st-mary", func(c records.SiteContact) bool { return c.Up })
	if up.Site != "site-st-mary-0001" || up.Transport != "tcp" || up.UpSince.IsZero() {
		t.Fatalf("st-mary's own site: %+v", up)
	}
	siteOf(t, e, "riverside", "riverside", func(c records.SiteContact) bool { return c.Up })
	siteOf(t, e, "hhs-liaison", "st-mary", func(c records.SiteContact) bool { return c.Up })
	siteOf(t, e, "hhs-liaison", "riverside", func(c records.SiteContact) bool { return c.Up })
	for member, want := range map[string]string{"st-mary": "st-mary", "riverside": "riverside", "acme-pharma": ""} {
		a, err := sitesOf(t, e, member)
		if err != nil {
			t.Fatal(err)
		}
		if a.Scope != "own" || len(a.Sites) > 1 || (want == "") != (len(a.Sites) == 0) || (want != "" && a.Sites[0].Member != want) {
			t.Fatalf("%s sees %+v, want its own site only (%q)", member, a, want)
		}
	}
	if a, _ := sitesOf(t, e, "hhs-liaison"); a.Scope != "all" || len(a.Sites) != 2 {
		t.Fatalf("the liaison sees %+v, want both sites", a)
	}

	cut := time.Now()
	links.proxies["st-mary"].Cut()
	down := siteOf(t, e, "st-mary", "st-mary", func(c records.SiteContact) bool { return !c.Up })
	if down.DownSince.Before(cut) || down.LastContact.After(down.DownSince) {
		t.Fatalf("after the cut at %s: %+v", cut, down)
	}
	testwait.For(t, 10*time.Second, "three heartbeats after the cut", testwait.True(func() bool { return time.Since(down.DownSince) > 3*siteHeartbeat }))
	later := siteOf(t, e, "hhs-liaison", "st-mary", func(records.SiteContact) bool { return true })
	if later.Up || !later.LastContact.Equal(down.LastContact) {
		t.Fatalf("the cut site's last contact moved: %+v, was %+v", later, down)
	}
	siteOf(t, e, "hhs-liaison", "riverside", func(c records.SiteContact) bool { return c.Up && c.LastContact.After(down.DownSince) })
}

// forwarded stores in INGEST a status report of member as its site
// forwards one (site.forwardOne): backlog messages queued behind it, its
// outbox fill share of its cap full, the site's alarm at 0.8.
func forwarded(t *testing.T, e *webtest.Env, member string, backlog int, fill string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := nats.NewMsg("tocsin.ingest.status." + member)
	m.Data = []byte("report")
	m.Header.Set(records.SiteBacklogHeader, strconv.Itoa(backlog))
	m.Header.Set(records.SiteOutboxFillHeader, fill)
	m.Header.Set(records.SiteOutboxAlarmHeader, "0.8")
	if _, err := e.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// TestSitesPanelInChromium: the liaison's Sites page lists St. Mary's cut
// site as down since the cut, with its last contact, and Riverside's as
// up; each row says its lag and backlog ("lag 0 · backlog 12"), with a
// warning, in words, for St. Mary's outbox at 90 % of its cap (the site
// warns at 80 %) and for Lakeside's last contact 10 minutes ago, none for
// Riverside's. St. Mary's own page lists its own site only.
func TestSitesPanelInChromium(t *testing.T) {
	bin := chromium(t)
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	links := startSiteLinks(t, e)
	links.link("st-mary")
	links.link("riverside")
	forwarded(t, e, "riverside", 12, "0.0001")
	forwarded(t, e, "st-mary", 3000, "0.9")
	siteOf(t, e, "hhs-liaison", "riverside", func(c records.SiteContact) bool { return c.Up && c.OutboxBacklog == 12 })
	siteOf(t, e, "hhs-liaison", "st-mary", func(c records.SiteContact) bool { return c.Up && c.OutboxBacklog == 3000 && c.OutboxFill == 0.9 })
	links.proxies["st-mary"].Cut()
	siteOf(t, e, "st-mary", "st-mary", func(c records.SiteContact) bool { return !c.Up })
	// A site last seen 10 minutes ago (its node wrote it down then).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := e.JS.KeyValue(ctx, records.BucketSites)
	if err != nil {
		t.Fatal(err)
	}
	ago := time.Now().Add(-10 * time.Minute)
	old, _ := json.Marshal(records.SiteContact{Member: "lakeside-childrens", Site: "site-lakeside-childrens-0001", Node: "hub", Transport: "tcp",
		UpSince: ago.Add(-time.Hour), DownSince: ago, LastContact: ago, SourceLag: 2, OutboxBacklog: 0, OutboxFill: 0.01, OutboxAlarm: 0.8})
	if _, err := kv.Put(ctx, "lakeside-childrens", old); err != nil {
		t.Fatal(err)
	}
	open := startBrowser(t, bin, 2*time.Minute)

	liaison := open("sites-liaison", 1280, 800)
	liaison.login(e, "hhs-liaison")
	liaison.do(`location.hash = "#/sites"`)
	row := func(member, cell string) string {
		return fmt.Sprintf(`document.querySelector('#sites tr[data-member=%q] .%s').textContent`, member, cell)
	}
	liaison.wait(row("st-mary", "link") + ` === "down"`)
	liaison.wait(row("st-mary", "since") + `.startsWith("down since ")`)
	liaison.wait(row("st-mary", "last-contact") + ` !== ""`)
	liaison.wait(row("riverside", "link") + ` === "up"`)
	liaison.wait(row("riverside", "since") + `.startsWith("up since ")`)
	liaison.wait(row("riverside", "queues") + ` === "lag 0 · backlog 12"`)
	liaison.wait(row("st-mary", "queues") + `.includes("lag 0 · backlog 3000")`)
	liaison.wait(row("lakeside-childrens", "queues") + `.includes("lag 2 · backlog 0")`)
	warned := func(member string) string {
		return eval[string](liaison, fmt.Sprintf(`(() => { const c = document.querySelector('#sites tr[data-member=%q] .queues');
			return c.classList.contains("warn") ? (c.querySelector(".why") || {}).textContent || "warn without words" : "" })()`, member))
	}
	if got := warned("riverside"); got != "" {
		t.Errorf("riverside's row warns %q, want no warning (outbox nearly empty, linked)", got)
	}
	if got := warned("st-mary"); !strings.Contains(got, "outbox 90% full") {
		t.Errorf("st-mary's row warns %q, want its outbox 90%% full", got)
	}
	if got := warned("lakeside-childrens"); !strings.Contains(got, "as of the last contact, 10 min ago") {
		t.Errorf("lakeside's row warns %q, want its last contact 10 minutes old", got)
	}
	liaison.shot("sites")

	mary := open("sites-member", 1280, 800)
	mary.login(e, "st-mary")
	mary.do(`location.hash = "#/sites"`)
	mary.wait(row("st-mary", "link") + ` === "down"`)
	if n := eval[int](mary, `document.querySelectorAll('#sites tbody tr').length`); n != 1 {
		t.Fatalf("st-mary's Sites page lists %d sites, want its own only", n)
	}
	mary.shot("sites")
}
