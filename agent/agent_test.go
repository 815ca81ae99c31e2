package agent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// hook is a webhook receiver that fails until healthy is set and counts
// what it accepted per message id.
type hook struct {
	srv     *httptest.Server
	secret  []byte
	healthy atomic.Bool
	failed  atomic.Int64
	mu      sync.Mutex
	got     map[string]int
}

func newHook(t *testing.T, secret string) *hook {
	h := &hook{secret: []byte(secret), got: map[string]int{}}
	schema := compiledRecordSchema(t)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !h.healthy.Load() {
			h.failed.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get(HeaderSignature) != Sign(h.secret, body) {
			t.Errorf("webhook body of %s has a wrong signature", r.Header.Get(HeaderMessageID))
		}
		if err := recordProblem(schema, body); err != nil {
			t.Errorf("webhook body of %s: %v", r.Header.Get(HeaderMessageID), err)
		}
		h.mu.Lock()
		h.got[r.Header.Get(HeaderMessageID)]++
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) count() (ids, posts int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.got {
		posts += n
	}
	return len(h.got), posts
}

// syncBuffer is a goroutine-safe status writer.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sinks opens a JSONL file, a STIX folder and a webhook under dir.
func sinks(t *testing.T, dir string, h *hook) (*JSONL, *STIXDir, *Webhook) {
	t.Helper()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "siem", "alerts.jsonl"), MaxBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenSTIXDir(filepath.Join(dir, "bundles"))
	if err != nil {
		t.Fatal(err)
	}
	wh, err := OpenWebhook(WebhookOptions{URL: h.srv.URL, Secret: h.secret, SpoolDir: filepath.Join(dir, "state", "webhook"),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxAttempts: 1000}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return j, s, wh
}

// TestCatchUpAfterStop: an agent stopped while 1,000 alerts are routed
// catches up when started: every alert in every sink once, each sector's
// copies in stream order, a delivered receipt for each; the webhook,
// failing at first, gets every alert once when it recovers.
func TestCatchUpAfterStop(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care", "health-it"))
	dir := t.TempDir()
	h := newHook(t, "s3cret")
	j, s, wh := sinks(t, dir, h)
	status := &syncBuffer{}
	opts := w.agentOptions("bridge", filepath.Join(dir, "state"), j, s, wh)
	opts.Status = status
	// A first run creates the consumers and goes live on an empty cluster.
	a, stop := w.start(opts)
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	stop()

	var payloads []proto.Message
	for i := range 1000 {
		switch {
		case i%5 < 2:
			payloads = append(payloads, alert("patient-care alert", "patient-care"))
		case i%5 < 4:
			payloads = append(payloads, alert("health-it alert", "health-it"))
		default:
			payloads = append(payloads, alert("both sectors", "patient-care", "health-it"))
		}
	}
	envs := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, payloads...)
	w.Routed("st-mary", envs)

	j, s, wh = sinks(t, dir, h)
	opts.Sinks = []Sink{j, s, wh}
	start := time.Now()
	a, stop = w.start(opts)
	testwait.For(t, 120*time.Second, "1,000 alerts in the JSONL file", testwait.True(func() bool { return len(jsonlRecords(t, filepath.Join(dir, "siem", "alerts.jsonl"))) >= 1000 }))
	t.Logf("caught up 1,000 alerts in %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(status.String(), "catching up") {
		t.Errorf("no 'catching up' status line; status:\n%s", status)
	}
	time.Sleep(time.Second)
	h.healthy.Store(true)
	testwait.For(t, 60*time.Second, "the webhook to get 1,000 alerts", testwait.True(func() bool { n, _ := h.count(); return n >= 1000 }))
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))

	recs := jsonlRecords(t, filepath.Join(dir, "siem", "alerts.jsonl"))
	want := map[string]bool{}
	for _, e := range envs {
		want[e.GetId()] = true
	}
	got := map[string]int{}
	lastSeq := map[string]uint64{}
	for _, r := range recs {
		got[r.ID]++
		if !want[r.ID] || !r.Verified || r.Sender != "st-mary" || r.TLP != "green" || r.Kind != "alert" || len(r.STIX) == 0 {
			t.Fatalf("unexpected record %+v", r)
		}
		d, _ := parseDestination(r.Subject)
		if r.Seq <= lastSeq[d.sector] {
			t.Fatalf("sector %s: record seq %d after %d: out of stream order", d.sector, r.Seq, lastSeq[d.sector])
		}
		lastSeq[d.sector] = r.Seq
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s written %d times", id, n)
		}
	}
	if len(got) != 1000 {
		t.Fatalf("%d distinct alerts in the JSONL file, want 1000", len(got))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "bundles", "*.json"))
	if len(files) != 1000 {
		t.Fatalf("%d bundles in the STIX folder, want 1000", len(files))
	}
	if rotated, _ := filepath.Glob(filepath.Join(dir, "siem", "alerts.jsonl.*")); len(rotated) == 0 {
		t.Errorf("the JSONL file never rotated at 256 KiB")
	}
	ids, posts := h.count()
	if ids != 1000 || posts != 1000 || h.failed.Load() == 0 {
		t.Fatalf("webhook: %d ids in %d accepted posts after %d failures; want 1000 in 1000 after some", ids, posts, h.failed.Load())
	}
	// Every alert has bridge's delivered receipt in REACH.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitReceipted(ctx, t, w, envs, "bridge")
	// ... through receipts that each cover many alerts, not one per alert.
	n := receiptsSent(ctx, t, w, "bridge")
	t.Logf("1,000 alerts caught up, %d receipts sent", n)
	if n == 0 || n > 100 {
		t.Fatalf("%d receipts from bridge for 1,000 alerts caught up; want each to cover many (at most 100)", n)
	}
	if q, err := os.ReadFile(QuarantinePath(opts.StateDir)); err == nil && len(q) > 0 {
		t.Fatalf("quarantine is not empty:\n%s", q)
	}
}
