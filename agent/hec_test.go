package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// collector is Splunk's HTTP Event Collector contract, in process: the
// event endpoint (Authorization: Splunk TOKEN, a stream of JSON events,
// each with an event field) and, when ack is on, channels whose ack ids
// are polled at the ack endpoint. hold keeps acks unindexed; refuse
// answers 400 code 6 for an event whose record title says "refuse";
// busy answers 503 code 9 to that many event posts.
type collector struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	ack   bool

	mu       sync.Mutex
	events   []map[string]any
	channels map[string]bool
	nextAck  map[string]int64
	pending  map[string]map[int64][]map[string]any // channel -> ack id -> its events
	hold     bool
	busy     int
	posts    int
	polls    int
}

func newCollector(t *testing.T, token string, ack bool) *collector {
	c := &collector{t: t, token: token, ack: ack, channels: map[string]bool{}, nextAck: map[string]int64{},
		pending: map[string]map[int64][]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+HECEventPath, c.event)
	mux.HandleFunc("POST "+HECAckPath, c.acks)
	c.srv = httptest.NewServer(mux)
	t.Cleanup(c.srv.Close)
	return c
}

func hecReply(w http.ResponseWriter, status int, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// authorized answers as Splunk does to a missing or wrong token.
func (c *collector) authorized(w http.ResponseWriter, r *http.Request) bool {
	switch r.Header.Get("Authorization") {
	case "":
		hecReply(w, 401, map[string]any{"text": "Token is required", "code": 2})
	case "Splunk " + c.token:
		return true
	default:
		hecReply(w, 403, map[string]any{"text": "Invalid token", "code": 4})
	}
	return false
}

func (c *collector) event(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(w, r) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts++
	ch := r.Header.Get(HECChannelHeader)
	if c.ack && ch == "" {
		hecReply(w, 400, map[string]any{"text": "Data channel is missing", "code": 10})
		return
	}
	if c.busy > 0 {
		c.busy--
		hecReply(w, 503, map[string]any{"text": "Server is busy", "code": 9})
		return
	}
	var batch []map[string]any
	dec := json.NewDecoder(r.Body)
	for n := 0; dec.More(); n++ {
		var e map[string]any
		if err := dec.Decode(&e); err != nil {
			hecReply(w, 400, map[string]any{"text": "Invalid data format", "code": 6, "invalid-event-number": n})
			return
		}
		ev, ok := e["event"].(map[string]any)
		if !ok {
			hecReply(w, 400, map[string]any{"text": "Event field is required", "code": 12, "invalid-event-number": n})
			return
		}
		if strings.Contains(fmt.Sprint(ev["title"]), "refuse") {
			hecReply(w, 400, map[string]any{"text": "Invalid data format", "code": 6, "invalid-event-number": n})
			return
		}
		batch = append(batch, e)
	}
	if len(batch) == 0 {
		hecReply(w, 400, map[string]any{"text": "No data", "code": 5})
		return
	}
	if !c.ack {
		c.events = append(c.events, batch...)
		hecReply(w, 200, map[string]any{"text": "Success", "code": 0})
		return
	}
	id := c.nextAck[ch]
	c.nextAck[ch]++
	if c.pending[ch] == nil {
		c.pending[ch] = map[int64][]map[string]any{}
	}
	c.pending[ch][id] = batch
	hecReply(w, 200, map[string]any{"text": "Success", "code": 0, "ackId": id})
}

// acks answers an ack poll; a polled id is indexed (its events kept) unless hold.
func (c *collector) acks(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(w, r) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.polls++
	ch := r.URL.Query().Get("channel")
	if ch == "" {
		ch = r.Header.Get(HECChannelHeader)
	}
	if !c.ack {
		hecReply(w, 400, map[string]any{"text": "ACK is disabled", "code": 14})
		return
	}
	var req struct {
		Acks []int64 `json:"acks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || ch == "" {
		hecReply(w, 400, map[string]any{"text": "Invalid data format", "code": 6})
		return
	}
	out := map[string]bool{}
	for _, id := range req.Acks {
		batch, ok := c.pending[ch][id]
		out[strconv.FormatInt(id, 10)] = ok && !c.hold
		if ok && !c.hold {
			c.events = append(c.events, batch...)
			delete(c.pending[ch], id)
		}
	}
	hecReply(w, 200, map[string]any{"acks": out})
}

// got returns the record ids of the indexed events, in order.
func (c *collector) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.events {
		out = append(out, fmt.Sprint(e["event"].(map[string]any)["id"]))
	}
	return out
}

func (c *collector) set(f func(c *collector)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// TestHECWaitsForIndexerAck: with acknowledgement on, events go with the
// channel header and count delivered only once the ack endpoint says they
// were indexed; nothing is sent twice.
func TestHECWaitsForIndexerAck(t *testing.T) {
	c := newCollector(t, "0f5e-token", true)
	c.set(func(c *collector) { c.hold = true })
	h, err := OpenHEC(HECOptions{URL: c.srv.URL, Token: "0f5e-token", Ack: true, SpoolDir: t.TempDir(), Index: "tocsin",
		AckPoll: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Write(context.Background(), recs("a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "acks polled", testwait.True(func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.polls >= 3 }))
	if d, _, _ := h.Stats(); d != 0 {
		t.Fatalf("%d delivered while the collector has indexed nothing", d)
	}
	c.set(func(c *collector) { c.hold = false })
	testwait.For(t, 10*time.Second, "3 delivered", testwait.True(func() bool { d, _, _ := h.Stats(); return d == 3 }))
	if got := strings.Join(c.got(), ","); got != "a,b,c" {
		t.Fatalf("indexed %s, want a,b,c", got)
	}
	c.mu.Lock()
	e := c.events[0]
	c.mu.Unlock()
	if e["sourcetype"] != "tocsin:record" || e["source"] != "tocsin" || e["index"] != "tocsin" || e["event"].(map[string]any)["title"] != "title a" {
		t.Fatalf("event %v", e)
	}
	if _, _, q := h.Stats(); q != 0 {
		t.Fatalf("%d bytes still queued", q)
	}
}

// TestHECWithoutAckChannelIsRefusedUntilConfigured: a token with
// acknowledgement on refuses posts without the channel header; the sink
// keeps the events and retries, dropping nothing.
func TestHECRetriesBusyAndDeadLettersRefused(t *testing.T) {
	c := newCollector(t, "tok", false)
	c.set(func(c *collector) { c.busy = 3 })
	dir := t.TempDir()
	open := func() *HEC {
		h, err := OpenHEC(HECOptions{URL: c.srv.URL + HECEventPath, Token: "tok", SpoolDir: dir, MinBackoff: 5 * time.Millisecond,
			MaxBackoff: 20 * time.Millisecond}, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := open()
	batch := recs("m1", "m2", "bad", "m3")
	batch[2].Title = "please refuse me"
	if err := h.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "3 delivered, 1 dead letter", testwait.True(func() bool { d, dl, _ := h.Stats(); return d == 3 && dl == 1 }))
	if got := strings.Join(c.got(), ","); got != "m1,m2,m3" {
		t.Fatalf("indexed %s, want m1,m2,m3", got)
	}
	data, err := os.ReadFile(h.DeadLetterPath())
	if err != nil || !strings.Contains(string(data), `"id":"bad"`) || !strings.Contains(string(data), "Invalid data format") {
		t.Fatalf("dead letters %s (%v)", data, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, nothing goes again, and a record already queued is not queued twice.
	h = open()
	defer h.Close()
	if err := h.Write(context.Background(), recs("m1", "m4")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "m4 delivered", testwait.True(func() bool { d, _, _ := h.Stats(); return d == 1 }))
	if got := strings.Join(c.got(), ","); got != "m1,m2,m3,m4" {
		t.Fatalf("indexed %s, want m1,m2,m3,m4", got)
	}
}

// TestHECSendsAgainWhenAnAckNeverComes: a batch whose ack id is never
// indexed within AckTimeout is posted again; a token with acknowledgement
// on refuses a sink without it, and the sink keeps its events.
func TestHECSendsAgainWhenAnAckNeverComes(t *testing.T) {
	c := newCollector(t, "tok", true)
	c.set(func(c *collector) { c.hold = true })
	h, err := OpenHEC(HECOptions{URL: c.srv.URL, Token: "tok", Ack: true, SpoolDir: t.TempDir(), AckPoll: 10 * time.Millisecond,
		AckTimeout: 200 * time.Millisecond, MinBackoff: 5 * time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Write(context.Background(), recs("x")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "a second post", testwait.True(func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.posts >= 2 }))
	c.set(func(c *collector) { c.hold = false })
	testwait.For(t, 10*time.Second, "x delivered", testwait.True(func() bool { d, _, _ := h.Stats(); return d == 1 }))

	// No ack on the sink's side: every post is refused, nothing is lost.
	noAck, err := OpenHEC(HECOptions{URL: c.srv.URL, Token: "tok", SpoolDir: t.TempDir(), MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 10 * time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := noAck.Write(context.Background(), recs("y")); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	before := c.posts
	c.mu.Unlock()
	testwait.For(t, 10*time.Second, "refused retries", testwait.True(func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.posts >= before+3 }))
	if d, dl, q := noAck.Stats(); d != 0 || dl != 0 || q == 0 {
		t.Fatalf("delivered %d, dead %d, queued %d: a missing channel must keep the event queued", d, dl, q)
	}
	noAck.Close()
}

func TestHECOptionsAndURLs(t *testing.T) {
	for raw, want := range map[string]string{
		"https://splunk:8088":                                "https://splunk:8088/services/collector/event",
		"https://splunk:8088/":                               "https://splunk:8088/services/collector/event",
		"http://splunk:8088/services/collector/event":        "http://splunk:8088/services/collector/event",
		"https://lb.example/splunk/services/collector/event": "https://lb.example/splunk/services/collector/event",
	} {
		ev, ack, err := hecEndpoints(raw)
		if err != nil || ev != want || ack != strings.TrimSuffix(want, "event")+"ack" {
			t.Errorf("%s: %s %s %v", raw, ev, ack, err)
		}
	}
	for _, raw := range []string{"splunk:8088", "ftp://x", "https://x/other", "https://x?index=a"} {
		if _, err := ParseSinkSpec("hec:" + raw); err == nil {
			t.Errorf("hec:%s accepted", raw)
		}
	}
	if _, err := OpenHEC(HECOptions{URL: "https://x", SpoolDir: t.TempDir()}, nil); err == nil {
		t.Error("a HEC sink without a token opened")
	}
	// The config reads the token file; a missing one is an error naming the flag.
	state := t.TempDir()
	tokenFile := filepath.Join(state, "hec.token")
	os.WriteFile(tokenFile, []byte("abc-123\n"), 0o600)
	t.Setenv("TOCSIN_HEC_TOKEN", "")
	cfg := Config{State: state, Sinks: []string{"hec:https://splunk.example:8088"}}
	if _, err := cfg.Options(nil); err == nil || !strings.Contains(err.Error(), "--hec-token-file") {
		t.Errorf("no token file: %v", err)
	}
	cfg.HECTokenFile = tokenFile
	o, err := cfg.Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	if hs := o.Sinks[0].(*HEC); hs.opts.Token != "abc-123" || hs.Name() != "hec:https://splunk.example:8088" {
		t.Errorf("token %q name %s", hs.opts.Token, hs.Name())
	}
	o.Sinks[0].Close()
}

// TestAgentToHEC: an alert routed to a member reaches Splunk through the
// agent, acknowledged by the indexer, as the agent's record.
func TestAgentToHEC(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	c := newCollector(t, "tok", true)
	dir := t.TempDir()
	h, err := OpenHEC(HECOptions{URL: c.srv.URL, Token: "tok", Ack: true, SpoolDir: filepath.Join(dir, "state", "hec"),
		AckPoll: 20 * time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := w.start(w.agentOptions("bridge", filepath.Join(dir, "state"), h))
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	envs := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alert("ransomware at the door", "patient-care"))
	w.Routed("st-mary", envs)
	testwait.For(t, 30*time.Second, "the alert indexed", testwait.True(func() bool { return len(c.got()) == 1 }))
	c.mu.Lock()
	e := c.events[0]
	c.mu.Unlock()
	var rec Record
	raw, _ := json.Marshal(e["event"])
	checkRecordLine(t, raw) // the event is the versioned record, as its schema says
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.SchemaVersion != SchemaVersion || rec.Severity != "medium" || len(rec.Indicators) != 1 || rec.ID != envs[0].GetId() || rec.Sender != "st-mary" || rec.Title != "ransomware at the door" || !rec.Verified || len(rec.STIX) == 0 {
		t.Fatalf("indexed record %+v", rec)
	}
	if tm, ok := e["time"].(float64); !ok || time.Since(time.UnixMilli(int64(tm*1000))) > time.Minute {
		t.Fatalf("event time %v", e["time"])
	}
}

// TestHECKeepsBatchesInFlight: while the collector has not indexed the
// first batch, the next ones are posted too (up to hecInFlight), and the
// spool advances in order once the acks come.
func TestHECKeepsBatchesInFlight(t *testing.T) {
	c := newCollector(t, "tok", true)
	c.set(func(c *collector) { c.hold = true })
	h, err := OpenHEC(HECOptions{URL: c.srv.URL, Token: "tok", Ack: true, Batch: 2, SpoolDir: t.TempDir(), AckPoll: 20 * time.Millisecond},
		zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var ids []string
	for i := range 10 {
		ids = append(ids, fmt.Sprint("p", i))
	}
	if err := h.Write(context.Background(), recs(ids...)); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "5 batches posted before any ack", testwait.True(func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.posts == 5 }))
	if d, _, _ := h.Stats(); d != 0 {
		t.Fatalf("%d delivered while nothing is indexed", d)
	}
	c.set(func(c *collector) { c.hold = false })
	testwait.For(t, 10*time.Second, "10 delivered", testwait.True(func() bool { d, _, _ := h.Stats(); return d == 10 }))
	if got := strings.Join(c.got(), ","); got != strings.Join(ids, ",") {
		t.Fatalf("indexed %s", got)
	}
}
