package site_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/site"
)

// countingSink is a real JSONL sink that counts each record it wrote.
type countingSink struct {
	*agent.JSONL
	mu    *sync.Mutex
	count map[string]int
}

func (s countingSink) Write(ctx context.Context, recs []*agent.Record) error {
	if err := s.JSONL.Write(ctx, recs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.count[r.ID]++
	}
	return nil
}

// once reports whether the sink wrote each of ids exactly once.
func (s countingSink) once(ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if n := s.count[id]; n != 1 {
			return fmt.Errorf("alert %s written %d times, want once (%d of %d written so far)", id, n, len(s.count), len(ids))
		}
	}
	if len(s.count) != len(ids) {
		return fmt.Errorf("the sink wrote %d alerts, want %d", len(s.count), len(ids))
	}
	return nil
}

// skipHubConsumer moves st-mary's site consumer at the hub past everything
// SECTORS holds, as an ack floor that went past what the site stored
// would (a chaos run's killed site skipped 170 copies so).
func skipHubConsumer(ctx context.Context, t *testing.T, h *hub) uint64 {
	t.Helper()
	st, err := h.svcJS.Stream(ctx, "SECTORS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]uint64{"seq": info.State.LastSeq + 1})
	resp, err := h.svc.RequestWithContext(ctx, "$JS.API.CONSUMER.RESET.SECTORS.st-mary-site-sectors", body)
	if err != nil || strings.Contains(string(resp.Data), `"error"`) {
		t.Fatalf("reset the hub's site consumer past SECTORS: %v %s", err, resp.Data)
	}
	return info.State.LastSeq
}

// waitRouted waits until SECTORS at the hub holds n copies for st-mary's sector.
func waitRouted(ctx context.Context, t *testing.T, h *hub, n uint64) {
	t.Helper()
	testwait.Until(ctx, t, fmt.Sprintf("%d copies for patient-care at the hub", n), func() error {
		st, err := h.svcJS.Stream(ctx, "SECTORS")
		if err != nil {
			return err
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter("tocsin.sector.patient-care.>"))
		if err != nil {
			return err
		}
		var got uint64
		for _, c := range info.State.Subjects {
			got += c
		}
		if got != n {
			return fmt.Errorf("SECTORS holds %d copies for patient-care, want %d", got, n)
		}
		return nil
	})
}

// TestSiteFillsWhatItsHubConsumerSkipped: the hub routes alerts to
// st-mary's sector while its site is stopped, and the hub's site consumer
// is moved past them (its ack floor past what the site stored, as a
// chaos run's killed site once found it: nats-server's source resets the
// consumer to its ack floor and skips what is below). The restarted site
// resets the consumer to the first copy it lacks; the same through a cut
// of its link. The member's agent at the site writes every alert to its
// sink exactly once.
func TestSiteFillsWhatItsHubConsumerSkipped(t *testing.T) {
	p := cutproxy.New(t)
	h := startHubWith(t, func(l *broker.LeafOptions) { l.Advertise = p.Addr() })
	h.runRouter(5 * time.Minute)
	ctx := testContext(t, 240*time.Second)
	p.Start(strings.TrimPrefix(h.c.Node(0).LeafURL(), "nats-leaf://"))
	ports, err := freeport.Pick("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	dir, agentDir := t.TempDir(), t.TempDir()
	startSite := func() *site.Site {
		s, err := site.New(testContext(t, 20*time.Second), site.Options{
			Hub: []string{"nats-leaf://" + p.Addr()}, Creds: h.creds["st-mary"], CA: h.ca, DataDir: dir,
			Listen: fmt.Sprintf("127.0.0.1:%d", ports[0]), Log: zaptest.NewLogger(t).Named("site"),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Exit)
		testwait.For(t, 30*time.Second, "the leaf link up", testwait.True(func() bool { up, _ := s.Link(); return up }))
		return s
	}
	j, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(agentDir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	sink := countingSink{JSONL: j, mu: &sync.Mutex{}, count: map[string]int{}}
	ag, err := agent.New(agent.Options{CredsFile: h.memberCreds["st-mary"], Servers: fmt.Sprintf("nats://127.0.0.1:%d", ports[0]),
		StateDir: filepath.Join(agentDir, "state"), Sinks: []agent.Sink{sink}, Receipts: agent.ReceiptsNone, Name: "st-mary at its site"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	publish := func(n int) {
		for range n {
			ids = append(ids, h.publishAlert(ctx, t, len(ids)))
		}
		waitRouted(ctx, t, h, uint64(len(ids)))
	}
	allOnce := func(what string) {
		t.Helper()
		testwait.For(t, 60*time.Second, what, func() error { return sink.once(ids) })
	}

	s := startSite()
	actx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(actx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	publish(3)
	allOnce("the first alerts in the agent's sink")

	s.Exit()
	publish(5)
	skipped := skipHubConsumer(ctx, t, h)
	s = startSite()
	allOnce(fmt.Sprintf("the alerts routed while the site was stopped, though its hub consumer was moved past hub sequence %d", skipped))
	if s.GapsFilled() != 1 {
		t.Fatalf("the restarted site filled %d gaps, want 1", s.GapsFilled())
	}

	p.Cut()
	testwait.For(t, 20*time.Second, "the site seeing its link down", testwait.True(func() bool { up, _ := s.Link(); return !up }))
	publish(5)
	skipped = skipHubConsumer(ctx, t, h)
	p.Heal()
	allOnce(fmt.Sprintf("the alerts routed during the cut, though its hub consumer was moved past hub sequence %d", skipped))
	if s.GapsFilled() != 2 {
		t.Fatalf("the site filled %d gaps, want 2 (one at restart, one at heal)", s.GapsFilled())
	}
	testwait.For(t, 10*time.Second, "SECTORS at the site with every copy once", func() error { return wantMsgs(ctx, localJS(t, s), "SECTORS", uint64(len(ids))) })
}
