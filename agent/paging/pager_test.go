package paging

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/agent/paging/pdtest"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// recorder is a channel that keeps what it was sent.
type recorder struct {
	name string
	mu   sync.Mutex
	got  []string // "trigger 01X step 2"
	at   []time.Time
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) add(op string, p Page) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, fmt.Sprintf("%s %s step %d", op, p.Message.ID, p.Step))
	r.at = append(r.at, time.Now())
	return nil
}
func (r *recorder) Trigger(_ context.Context, p Page) error     { return r.add("trigger", p) }
func (r *recorder) Acknowledge(_ context.Context, p Page) error { return r.add("acknowledge", p) }
func (r *recorder) Resolve(_ context.Context, p Page) error     { return r.add("resolve", p) }
func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func flash(id string) Message {
	return Message{ID: id, Kind: "alert", Sender: "st-mary", SenderName: "St. Mary's", TLP: "amber", Lane: "flash",
		Title: "LockBit on the EHR", Action: "block 203.0.113.7", Indicators: []string{"[ipv4-addr:value = '203.0.113.7']"}}
}

// world is a pager with PagerDuty first and a recorder as the next step.
type world struct {
	pd   *pdtest.Server
	next *recorder
	dir  string
	opts Options
}

func newWorld(t *testing.T, after time.Duration) *world {
	pd := pdtest.New("R0UT1NGKEY")
	t.Cleanup(pd.Close)
	ch, err := NewPagerDuty(PagerDutyOptions{URL: pd.EnqueueURL(), RoutingKey: "R0UT1NGKEY", Source: "tocsin agent st-mary"})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{pd: pd, next: &recorder{name: "email:soc-lead@st-mary.example"}, dir: t.TempDir()}
	w.opts = Options{Dir: w.dir, Retry: 20 * time.Millisecond, Log: zaptest.NewLogger(t), Channels: []Channel{ch, w.next},
		Policy: Policy{Steps: []Step{{Channel: "pagerduty"}, {Channel: w.next.name, After: after}}}}
	return w
}

// start runs a pager on w's directory until the test ends or stop.
func (w *world) start(t *testing.T) (*Pager, func()) {
	p, err := New(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return p, stop
}

func actions(evs []pdtest.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.EventAction+" "+e.DedupKey)
	}
	return out
}

func TestWhatPagesByDefault(t *testing.T) {
	p, err := Policy{Steps: []Step{{Channel: "x"}}}.withDefaults(func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		m    Message
		want bool
	}{
		{Message{Kind: "alert", Lane: "flash"}, true},
		{Message{Kind: "alert", Lane: "urgent"}, false},
		{Message{Kind: "advisory", Lane: "urgent"}, true},
		{Message{Kind: "advisory", Lane: "routine"}, false},
		{Message{Kind: "alert", Lane: "flash", Exercise: true}, false},
		{Message{Kind: "csaf-advisory", Lane: "flash"}, false},
		{Message{Kind: "csaf-advisory", Lane: "routine", Affected: 2}, true},
		{Message{Kind: "sighting-summary", Lane: "flash"}, false},
	}
	for _, c := range cases {
		if got := p.Pages(c.m); got != c.want {
			t.Errorf("%s %s exercise=%v affected=%d: pages %v, want %v", c.m.Kind, c.m.Lane, c.m.Exercise, c.m.Affected, got, c.want)
		}
	}
	p.Exercises = true
	if !p.Pages(Message{Kind: "alert", Lane: "flash", Exercise: true}) {
		t.Error("with exercises: true a flash exercise alert does not page")
	}
	if _, err := (Policy{Steps: []Step{{Channel: "pagerduty"}}}).withDefaults(func(string) bool { return false }); err == nil || !strings.Contains(err.Error(), `no channel "pagerduty"`) {
		t.Errorf("a step naming an unconfigured channel: %v", err)
	}
}

func TestAPageSaysNoMoreThanItsReaderMaySee(t *testing.T) {
	m := flash("01RED")
	m.TLP = "red"
	m.Body = "patient records of ward 4 exposed"
	for _, body := range []bool{false, true} {
		summary, details := m.Text(body)
		all := summary + fmt.Sprint(details)
		leaked := strings.Contains(all, "LockBit") || strings.Contains(all, "203.0.113.7") || strings.Contains(all, "ward 4")
		if !body && (leaked || summary != "TLP:RED flash alert from St. Mary's: open the console") {
			t.Errorf("a TLP:RED page without body: %q %v", summary, details)
		}
		if body && !leaked {
			t.Errorf("with body: true the words are missing: %q %v", summary, details)
		}
	}
	m.TLP, m.Exercise = "amber+strict", true
	if s, _ := m.Text(false); !strings.HasPrefix(s, "EXERCISE: TLP:AMBER+STRICT") {
		t.Errorf("an AMBER+STRICT exercise page: %q", s)
	}
	m.TLP = "green"
	if s, d := m.Text(false); !strings.HasPrefix(s, "EXERCISE: [FLASH TLP:GREEN] LockBit on the EHR") || d["indicators"] == "" {
		t.Errorf("a GREEN exercise page: %q %v", s, d)
	}
}

// TestAnUnacknowledgedPageEscalates: PagerDuty is paged at once; nobody
// acknowledges; the next step fires on its deadline.
func TestAnUnacknowledgedPageEscalates(t *testing.T) {
	w := newWorld(t, 400*time.Millisecond)
	p, _ := w.start(t)
	if n, err := p.Enqueue([]Message{flash("01ESC"), {ID: "01ROUTINE", Kind: "alert", Lane: "routine", TLP: "green"}}); err != nil || n != 1 {
		t.Fatalf("Enqueue took %d (%v), want the flash alert only", n, err)
	}
	testwait.For(t, 10*time.Second, "the second step", testwait.True(func() bool { return len(w.next.calls()) == 1 }))
	evs := w.pd.Events()
	if got := actions(evs); len(got) != 1 || got[0] != "trigger 01ESC" {
		t.Fatalf("PagerDuty got %v", got)
	}
	if sev := evs[0].Payload.Severity; sev != "critical" {
		t.Errorf("a flash page has severity %q, want critical", sev)
	}
	late := w.next.at[0].Sub(evs[0].At) - 400*time.Millisecond
	if late < 0 || late > time.Second {
		t.Errorf("the second step fired %s after its deadline, want within 1s", late)
	}
	if got := w.next.calls(); got[0] != "trigger 01ESC step 2" {
		t.Errorf("the second step: %v", got)
	}
}

// TestAnAcknowledgementStopsTheEscalation: acknowledged before the next
// step's deadline, the next step never fires and PagerDuty is told; the
// resolution reaches it too.
func TestAnAcknowledgementStopsTheEscalation(t *testing.T) {
	w := newWorld(t, 2*time.Second)
	p, _ := w.start(t)
	if _, err := p.Enqueue([]Message{flash("01ACK")}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the page", testwait.True(func() bool { return len(w.pd.Events()) == 1 }))
	if ok, err := p.Acknowledge("01ACK", "J. Ortiz"); !ok || err != nil {
		t.Fatalf("Acknowledge: %v %v", ok, err)
	}
	testwait.For(t, 10*time.Second, "the acknowledgement at PagerDuty", testwait.True(func() bool { return len(w.pd.Events()) == 2 }))
	if _, err := p.Resolve("01ACK"); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the resolution at PagerDuty", testwait.True(func() bool { return len(w.pd.Events()) == 3 }))
	if got := actions(w.pd.Events()); strings.Join(got, ",") != "trigger 01ACK,acknowledge 01ACK,resolve 01ACK" {
		t.Errorf("PagerDuty got %v", got)
	}
	testwait.For(t, 10*time.Second, "the page to be done", testwait.True(func() bool { return p.Open() == 0 }))
	if got := w.next.calls(); len(got) != 0 {
		t.Errorf("the second step fired after the acknowledgement: %v", got)
	}
	if n, _ := p.Enqueue([]Message{flash("01ACK")}); n != 0 {
		t.Error("the same message delivered again paged again")
	}
}

// TestThrottledPagesAreSentAgain: PagerDuty answers 429 twice; the page
// is sent again and arrives once.
func TestThrottledPagesAreSentAgain(t *testing.T) {
	w := newWorld(t, time.Hour)
	w.pd.FailNext(2)
	p, _ := w.start(t)
	if _, err := p.Enqueue([]Message{flash("01THROTTLE")}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the page after two 429s", testwait.True(func() bool { return len(w.pd.Events()) == 1 }))
}

// TestAPagerRestartedResumesItsTimers: the agent stops after the first
// step; started again on the same directory it fires the second step on
// time and does not send the first again.
func TestAPagerRestartedResumesItsTimers(t *testing.T) {
	w := newWorld(t, 1500*time.Millisecond)
	p, stop := w.start(t)
	if _, err := p.Enqueue([]Message{flash("01CRASH")}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the first step", testwait.True(func() bool { return len(w.pd.Events()) == 1 }))
	stop()
	first := w.pd.Events()[0].At
	p2, _ := w.start(t)
	if p2.Open() != 1 {
		t.Fatalf("the restarted pager has %d open pages, want 1", p2.Open())
	}
	testwait.For(t, 10*time.Second, "the second step after the restart", testwait.True(func() bool { return len(w.next.calls()) == 1 }))
	if late := w.next.at[0].Sub(first) - 1500*time.Millisecond; late < 0 || late > time.Second {
		t.Errorf("the second step fired %s after its deadline across the restart", late)
	}
	if n := len(w.pd.Events()); n != 1 {
		t.Errorf("PagerDuty was paged %d times, want once", n)
	}
}

// TestARefusedPageEscalatesAtOnce: PagerDuty refuses the routing key for
// good; the next step does not wait for its delay.
func TestARefusedPageEscalatesAtOnce(t *testing.T) {
	w := newWorld(t, time.Hour)
	bad, err := NewPagerDuty(PagerDutyOptions{URL: w.pd.EnqueueURL(), RoutingKey: "WRONG"})
	if err != nil {
		t.Fatal(err)
	}
	w.opts.Channels[0] = bad
	p, _ := w.start(t)
	if _, err := p.Enqueue([]Message{flash("01REFUSED")}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the next step", testwait.True(func() bool { return len(w.next.calls()) == 1 }))
}

// TestAnAckInPagerDutyStopsTheEscalation: a person acknowledges the
// incident in PagerDuty; with an API token the pager reads it back, stops
// escalating and says who, so that the agent can send the receipt.
func TestAnAckInPagerDutyStopsTheEscalation(t *testing.T) {
	w := newWorld(t, 2*time.Second)
	ch, err := NewPagerDuty(PagerDutyOptions{URL: w.pd.EnqueueURL(), RoutingKey: "R0UT1NGKEY", APIURL: w.pd.APIURL(), APIToken: pdtest.APIToken})
	if err != nil {
		t.Fatal(err)
	}
	w.opts.Channels[0] = ch
	w.opts.WatchEvery = 100 * time.Millisecond
	p, err := New(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	settled := make(chan string, 4)
	p.OnSettled(func(m Message, by string, resolved bool) {
		settled <- fmt.Sprintf("%s %s %s %v", m.ID, m.Region, by, resolved)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// A copy routed in region west: the page's message says so, for the
	// receipt's ref_region.
	m := flash("01INPD")
	m.Region = "west"
	if _, err := p.Enqueue([]Message{m}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the page", testwait.True(func() bool { return len(w.pd.Events()) == 1 }))
	w.pd.AcknowledgeInPagerDuty("01INPD", "Jane Doe")
	select {
	case got := <-settled:
		if got != "01INPD west Jane Doe false" {
			t.Errorf("settled: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the acknowledgement made in PagerDuty was not read back")
	}
	testwait.For(t, 10*time.Second, "the page to be done", testwait.True(func() bool { return p.Open() == 0 }))
	if got := w.next.calls(); len(got) != 0 {
		t.Errorf("the escalation went on after the acknowledgement in PagerDuty: %v", got)
	}
}

// TestAMatchRaisesThePagesSeverity: a message that matched the member's
// own assets pages one lane more urgent (records.Raised: routine pages as
// urgent, "error" in PagerDuty; urgent and flash as critical) and says how
// many assets matched, TLP:RED too; one that matched nothing keeps its lane's.
func TestAMatchRaisesThePagesSeverity(t *testing.T) {
	for lane, want := range map[string][2]string{"info": {"info", "warning"}, "routine": {"warning", "error"}, "urgent": {"error", "critical"}, "flash": {"critical", "critical"}} {
		m := Message{Kind: "csaf-advisory", Lane: lane, TLP: "clear", Title: "ICSMA"}
		if got := m.Severity().PagerDuty; got != want[0] {
			t.Errorf("%s, not matched: severity %s, want %s", lane, got, want[0])
		}
		m.Affected = 3
		if got := m.Severity().PagerDuty; got != want[1] {
			t.Errorf("%s, matched: severity %s, want %s", lane, got, want[1])
		}
		for _, l := range []string{"clear", "red"} {
			m.TLP = l
			if s, d := m.Text(false); !strings.Contains(s, "matches 3 of your own assets") || d["affected"] != "3" {
				t.Errorf("%s %s matched: %q %v", lane, l, s, d)
			}
		}
	}
}
