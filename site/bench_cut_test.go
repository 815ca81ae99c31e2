package site_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

var (
	benchAlertsN    = flag.Int("site.latency.alerts", 200, "BenchmarkSiteSinkLatency: alerts published at the hub")
	benchAlertsRate = flag.Float64("site.latency.rate", 20, "BenchmarkSiteSinkLatency: alerts a second")
)

// arrivals records when each message id first reached a sink.
type arrivals struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newArrivals() *arrivals { return &arrivals{seen: map[string]time.Time{}} }

func (a *arrivals) at(id string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.seen[id]
	return t, ok
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

// timedSink is a real JSONL sink that tells arrivals each record it wrote.
type timedSink struct {
	*agent.JSONL
	a *arrivals
}

func (s timedSink) Write(ctx context.Context, recs []*agent.Record) error {
	if err := s.JSONL.Write(ctx, recs); err != nil {
		return err
	}
	now := time.Now()
	s.a.mu.Lock()
	for _, r := range recs {
		if _, ok := s.a.seen[r.ID]; !ok {
			s.a.seen[r.ID] = now
		}
	}
	s.a.mu.Unlock()
	return nil
}

// runAgent runs st-mary's agent against server (the site or the hub)
// with a JSONL sink in dir until the returned stop is called.
func runAgent(t testing.TB, h *hub, server, dir string, a *arrivals) (stop func()) {
	t.Helper()
	j, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(agent.Options{CredsFile: h.memberCreds["st-mary"], Servers: server, StateDir: filepath.Join(dir, "state"),
		Sinks: []agent.Sink{timedSink{j, a}}, Receipts: agent.ReceiptsNone, Name: "bench st-mary"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent at %s: %v", server, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// publishAlert has acme-pharma publish an URGENT alert to patient-care at
// the hub (through the router) and returns its id.
func (h *hub) publishAlert(ctx context.Context, t testing.TB, i int) string {
	t.Helper()
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	domain := fmt.Sprintf("c2-%d-%s.example", i, ids.V4()[:8])
	ind := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--" + ids.V4(), "created": now, "modified": now,
		"name": "C2 domain " + domain, "pattern": fmt.Sprintf("[domain-name:value = '%s']", domain), "pattern_type": "stix",
		"valid_from": now, "object_marking_refs": []string{tlp.MarkingGreen},
	}
	bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": []any{ind}})
	env, msg := h.seal("acme-pharma", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: fmt.Sprint("site bench alert ", i),
		Lane: tocsinv1.Lane_LANE_URGENT, Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: bundle, RecommendedAction: "block the domain"})
	if _, err := h.svcJS.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("alert %d: %v", i, err)
	}
	return env.GetId()
}

// quantiles are a run's latencies in milliseconds.
type quantiles struct{ p50, p99, max float64 }

func quantilesOf(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := min(len(s)-1, int(q*float64(len(s)-1)+0.5))
		return float64(s[i].Microseconds()) / 1000
	}
	return quantiles{at(0.50), at(0.99), at(1)}
}

// BenchmarkSiteSinkLatency: st-mary's agent at its site and its agent at
// the hub, the same sector, in the same run: -site.latency.alerts URGENT
// alerts published at the hub at -site.latency.rate a second through the
// router; publish-to-sink latency of each agent (p50, p99, max) and the
// ratio of the p99s (the bound: 1.5):
//
//	go test -run '^$' -bench SiteSinkLatency -benchtime 1x ./site/
func BenchmarkSiteSinkLatency(b *testing.B) {
	for range b.N {
		b.StopTimer()
		h := startHub(b)
		h.runRouter(0)
		ctx := testContext(b, 10*time.Minute)
		s := h.startSite("st-mary", "", b.TempDir())
		testwait.For(b, 30*time.Second, "the leaf link up", testwait.True(func() bool { up, _ := s.Link(); return up }))
		atSite, atHub := newArrivals(), newArrivals()
		runAgent(b, h, s.ClientURL(), b.TempDir(), atSite)
		runAgent(b, h, h.c.ClientURL(), b.TempDir(), atHub)
		// One alert both agents have before the run: both are reading.
		first := h.publishAlert(ctx, b, -1)
		testwait.For(b, 60*time.Second, "the first alert at both agents", testwait.True(func() bool {
			_, bySite := atSite.at(first)
			_, byHub := atHub.at(first)
			return bySite && byHub
		}))
		sent := map[string]time.Time{}
		tick := time.NewTicker(time.Duration(float64(time.Second) / *benchAlertsRate))
		b.StartTimer()
		for i := range *benchAlertsN {
			<-tick.C
			t0 := time.Now()
			sent[h.publishAlert(ctx, b, i)] = t0
		}
		tick.Stop()
		testwait.For(b, 2*time.Minute, "every alert at both agents", func() error {
			if ns, nh := atSite.count(), atHub.count(); ns != len(sent)+1 || nh != len(sent)+1 {
				return fmt.Errorf("%d at the site's agent, %d at the hub's, want %d", ns, nh, len(sent)+1)
			}
			return nil
		})
		b.StopTimer()
		var site, hubs []time.Duration
		for id, t0 := range sent {
			ts, _ := atSite.at(id)
			th, _ := atHub.at(id)
			site, hubs = append(site, ts.Sub(t0)), append(hubs, th.Sub(t0))
		}
		qs, qh := quantilesOf(site), quantilesOf(hubs)
		b.Logf("%d alerts at %.0f/s\n%-20s %8s %8s %8s\n%-20s %8.1f %8.1f %8.1f\n%-20s %8.1f %8.1f %8.1f\np99 site/hub: %.2f",
			len(sent), *benchAlertsRate, "publish-to-sink ms", "p50", "p99", "max",
			"agent at the site", qs.p50, qs.p99, qs.max, "agent at the hub", qh.p50, qh.p99, qh.max, qs.p99/qh.p99)
		b.ReportMetric(qs.p50, "site-p50-ms")
		b.ReportMetric(qs.p99, "site-p99-ms")
		b.ReportMetric(qs.max, "site-max-ms")
		b.ReportMetric(qh.p50, "hub-p50-ms")
		b.ReportMetric(qh.p99, "hub-p99-ms")
		b.ReportMetric(qh.max, "hub-max-ms")
		b.ReportMetric(qs.p99/qh.p99, "p99-ratio")
	}
}

// BenchmarkSiteAgentStartDuringACut: an alert reaches the site, the link
// is cut, and the member's agent starts at the site (no state of its own:
// it gets the directory from the site's copy); start-to-sink is how long
// after the agent's start the alert is in its sink (the bound:
// 1 s). Each iteration heals, routes a new alert, cuts, starts a new agent:
//
//	go test -run '^$' -bench SiteAgentStartDuringACut -benchtime 10x ./site/
func BenchmarkSiteAgentStartDuringACut(b *testing.B) {
	b.StopTimer()
	cs := startCutSite(b)
	ctx := testContext(b, 10*time.Minute)
	cs.waitKept(ctx, b, "")
	js := localJS(b, cs.s)
	var took []time.Duration
	for i := range b.N {
		if i > 0 {
			cs.p.Heal()
			cs.waitLink(b, true)
		}
		id := cs.h.publishAlert(ctx, b, i)
		waitMsgs(ctx, b, js, "SECTORS", uint64(i+1))
		cs.cut(b)
		a := newArrivals()
		dir := b.TempDir()
		b.StartTimer()
		start := time.Now()
		stop := runAgent(b, cs.h, cs.s.ClientURL(), dir, a)
		testwait.For(b, time.Minute, "the alert in the sink of the agent started during the cut", testwait.True(func() bool { _, ok := a.at(id); return ok }))
		at, _ := a.at(id)
		b.StopTimer()
		took = append(took, at.Sub(start))
		stop()
	}
	q := quantilesOf(took)
	b.ReportMetric(q.p50, "start-to-sink-p50-ms")
	b.ReportMetric(q.max, "start-to-sink-max-ms")
}

// BenchmarkSiteBoardDuringACut: during a cut the member sends status
// reports at its site; report-to-board is how long until the board the
// site serves shows each one (the bound: 1 s):
//
//	go test -run '^$' -bench SiteBoardDuringACut -benchtime 20x ./site/
func BenchmarkSiteBoardDuringACut(b *testing.B) {
	b.StopTimer()
	cs := startCutSite(b)
	ctx := testContext(b, 10*time.Minute)
	cs.waitKept(ctx, b, "")
	cs.cut(b)
	js := localJS(b, cs.s)
	nc := cs.conn(b)
	var took []time.Duration
	for i := range b.N {
		env, msg := cs.h.seal("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DEGRADED, Note: fmt.Sprint("report ", i)})
		b.StartTimer()
		start := time.Now()
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(env.GetId())); err != nil {
			b.Fatal(err)
		}
		testwait.For(b, time.Minute, "the report on the site's board", func() error {
			bd, err := askBoard(ctx, nc)
			if err != nil {
				return err
			}
			if f := facility(b, bd, "st-mary"); f == nil || f.Report != env.GetId() || !f.AtSite {
				return fmt.Errorf("the site's board shows %+v", f)
			}
			return nil
		})
		took = append(took, time.Since(start))
		b.StopTimer()
	}
	q := quantilesOf(took)
	b.ReportMetric(q.p50, "report-to-board-p50-ms")
	b.ReportMetric(q.max, "report-to-board-max-ms")
}
