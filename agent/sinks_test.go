package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tocsin-project/tocsin/auth"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"go.uber.org/zap/zaptest"
)

// rec is a complete record of a flash alert, as the checker makes them.
func rec(id string) *Record {
	at := time.Date(2026, 11, 24, 2, 14, 0, 0, time.UTC)
	r := &Record{SchemaVersion: SchemaVersion, ID: id, Kind: KindAlert, Sender: "st-mary", KeyID: "UST-MARY-KEY", Verified: true, TLP: "green",
		Time: at, Routed: at.Add(time.Second), Received: at.Add(2 * time.Second), Sectors: []string{"patient-care"}, Delivery: 1,
		Subject: "tocsin.sector.patient-care.flash", Seq: 1, Title: "title " + id, Indicators: []Indicator{},
		STIX: json.RawMessage(`{"type":"bundle","id":"bundle--` + id + `"}`)}
	r.setLane(tocsinv1.Lane_LANE_FLASH)
	return r
}

func recs(ids ...string) []*Record {
	var out []*Record
	for _, id := range ids {
		out = append(out, rec(id))
	}
	return out
}

func TestJSONLIsIdempotentAndSurvivesATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x", "alerts.jsonl")
	j, err := OpenJSONL(JSONLOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := j.Write(ctx, recs("a", "b", "a")); err != nil {
		t.Fatal(err)
	}
	if err := j.Write(ctx, recs("b", "c")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	// A crash in the middle of a write leaves half a line.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"id":"d","kind":"al`)
	f.Close()
	j, err = OpenJSONL(JSONLOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Write(ctx, recs("c", "d", "a")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	var ids []string
	for _, r := range jsonlRecords(t, path) {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "a,b,c,d" {
		t.Fatalf("file holds %s, want a,b,c,d", got)
	}
}

func TestJSONLRotatesAndIndexesRotatedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	j, err := OpenJSONL(JSONLOptions{Path: path, MaxBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 20 {
		if err := j.Write(ctx, recs(fmt.Sprint("id-", i))); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	files, _ := filepath.Glob(path + ".*")
	if len(files) < 3 {
		t.Fatalf("%d rotated files for 20 records of ~200 bytes at 600 bytes each", len(files))
	}
	for _, f := range append(files, path) {
		if st, _ := os.Stat(f); st.Size() > 600 {
			t.Errorf("%s is %d bytes, over MaxBytes", f, st.Size())
		}
	}
	j, err = OpenJSONL(JSONLOptions{Path: path, MaxBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Write(ctx, recs("id-0", "id-7", "id-19", "id-20")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if n := len(jsonlRecords(t, path)); n != 21 {
		t.Fatalf("%d records after rewriting old ids, want 21", n)
	}
	// Rotated files older than Remember are not indexed: the index stays
	// bounded. id-0 is in the oldest file; backdate it past the horizon.
	files, _ = filepath.Glob(path + ".*")
	slices.Sort(files)
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(files[0], old, old); err != nil {
		t.Fatal(err)
	}
	j, err = OpenJSONL(JSONLOptions{Path: path, MaxBytes: 600, Remember: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Write(ctx, recs("id-0", "id-19")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if n := len(jsonlRecords(t, path)); n != 22 {
		t.Fatalf("%d records: id-0 (past the horizon) should be written again and id-19 not, want 22", n)
	}
	if _, err := OpenJSONL(JSONLOptions{Path: path, Remember: -time.Hour}); !errors.Is(err, ErrSinkSpec) {
		t.Fatalf("negative Remember: %v", err)
	}
}

func TestSTIXDirWritesEachBundleOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundles")
	s, err := OpenSTIXDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	noBundle := rec("summary")
	noBundle.STIX = nil
	if err := s.Write(context.Background(), append(recs("a", "b"), noBundle)); err != nil {
		t.Fatal(err)
	}
	// A leftover from a killed write, and a bundle changed on disk by the
	// SOC's tooling: the first is removed at open, the second never rewritten.
	os.WriteFile(filepath.Join(dir, ".c.json.123.tmp"), []byte("{"), 0o600)
	os.WriteFile(s.Path("a"), []byte(`{"kept":true}`), 0o600)
	s, err = OpenSTIXDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), recs("a", "c")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "a.json,b.json,c.json" {
		t.Fatalf("folder holds %s", got)
	}
	if data, _ := os.ReadFile(s.Path("a")); string(data) != `{"kept":true}` {
		t.Fatalf("a.json was rewritten: %s", data)
	}
	if data, _ := os.ReadFile(s.Path("c")); !strings.Contains(string(data), "bundle--c") {
		t.Fatalf("c.json holds %s", data)
	}
}

// TestWebhookNeverRecovering: every body ends in the dead-letter file after
// MaxAttempts, Write never waits for the receiver, and the sender moves on.
func TestWebhookNeverRecovering(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		posts.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()
	dir := t.TempDir()
	w, err := OpenWebhook(WebhookOptions{URL: srv.URL, Secret: []byte("0123456789abcdef"), SpoolDir: dir, MaxAttempts: 3,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 10 {
		if err := w.Write(context.Background(), recs(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("10 writes took %s: Write must not wait for the receiver", d)
	}
	testwait.For(t, 10*time.Second, "10 dead letters", testwait.True(func() bool { _, dead, _ := w.Stats(); return dead == 10 }))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if posts.Load() != 30 {
		t.Errorf("%d posts, want 3 attempts for each of 10", posts.Load())
	}
	data, err := os.ReadFile(w.DeadLetterPath())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d dead letters, want 10", len(lines))
	}
	var dl struct {
		ID       string          `json:"id"`
		Attempts int             `json:"attempts"`
		Error    string          `json:"error"`
		Body     json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &dl); err != nil || dl.ID != "m0" || dl.Attempts != 3 || !strings.Contains(dl.Error, "500") ||
		!strings.Contains(string(dl.Body), `"title":"title m0"`) {
		t.Fatalf("dead letter %s (%v)", lines[0], err)
	}
	checkRecordLine(t, dl.Body)
	// Reopened, nothing is posted again: every id was handled.
	w, err = OpenWebhook(WebhookOptions{URL: srv.URL, Secret: []byte("0123456789abcdef"), SpoolDir: dir, MaxAttempts: 3,
		MinBackoff: time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), recs("m3")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	w.Close()
	if posts.Load() != 30 {
		t.Errorf("%d posts after reopening, want still 30", posts.Load())
	}
}

// TestWebhookSTIXFormat posts bundles only, with the STIX media type.
func TestWebhookSTIXFormat(t *testing.T) {
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Content-Type") + " " + r.Header.Get(HeaderMessageID)
	}))
	defer srv.Close()
	w, err := OpenWebhook(WebhookOptions{URL: srv.URL, Secret: []byte("0123456789abcdef"), SpoolDir: t.TempDir(), Format: "stix"}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	summary := rec("s")
	summary.STIX = nil
	if err := w.Write(context.Background(), []*Record{summary, rec("b")}); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != "application/stix+json;version=2.1 b" {
			t.Fatalf("posted %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing posted")
	}
	select {
	case g := <-got:
		t.Fatalf("a second post %q: a record without a bundle is not posted in stix format", g)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestQueueCutsATornFrameAndCompacts(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, "q", false)
	if err != nil {
		t.Fatal(err)
	}
	q.compactAt = 64
	if err := q.append([]byte("one"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	q.close()
	f, _ := os.OpenFile(filepath.Join(dir, "q.log"), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 0, 9, 1, 2, 3, 4, 'x'}) // a frame cut short
	f.Close()
	if q, err = openQueue(dir, "q", false); err != nil {
		t.Fatal(err)
	}
	q.compactAt = 64
	items, next, err := q.peek(10)
	if err != nil || len(items) != 2 || string(items[0]) != "one" || string(items[1]) != "two" {
		t.Fatalf("peek: %q, %v", items, err)
	}
	if err := q.advance(next); err != nil {
		t.Fatal(err)
	}
	if err := q.append([]byte("three")); err != nil {
		t.Fatal(err)
	}
	q.close()
	q, _ = openQueue(dir, "q", false)
	q.compactAt = 64
	items, next, _ = q.peek(10)
	if len(items) != 1 || string(items[0]) != "three" {
		t.Fatalf("after reopening: %q", items)
	}
	big := make([]byte, 100)
	q.append(big)
	items, next, _ = q.peek(10)
	if err := q.advance(next); err != nil || q.size != 0 || q.pending() != 0 {
		t.Fatalf("not compacted: size %d, pending %d, %v", q.size, q.pending(), err)
	}
	q.close()
}

func TestConfigIsStrict(t *testing.T) {
	_, err := ParseConfig("agent.yaml", []byte("creds: a.creds\nstate: /tmp/x\nsinks: [jsonl:/tmp/a]\nwebhook_secret: oops\n"))
	if err == nil || !strings.Contains(err.Error(), "webhook_secret") {
		t.Fatalf("an unknown key must be an error naming it: %v", err)
	}
	c, err := ParseConfig("agent.yaml", []byte("creds: a.creds\nserver: nats://x:4222\nsectors: [patient-care]\nlanes: [flash]\n"+
		"sinks: [\"jsonl:/tmp/a.jsonl\", \"stix-dir:/tmp/b\"]\nstate: /tmp/s\nhttp: \":8787\"\nreceipts: advisories\nbatch: 64\n"))
	if err != nil || c.Creds != "a.creds" || len(c.Sinks) != 2 || c.Batch != 64 || c.HTTP != ":8787" || c.Receipts != "advisories" {
		t.Fatalf("%+v, %v", c, err)
	}
	if _, err := ParseConfig("agent.yaml", nil); err != nil {
		t.Fatalf("an empty file is an empty config: %v", err)
	}
	for _, spec := range []string{"jsonl", "ftp:x", "webhook:file:///etc/passwd", "webhook:", "stix-dir:"} {
		if _, err := ParseSinkSpec(spec); err == nil {
			t.Errorf("sink %q accepted", spec)
		}
	}
	c = Config{State: t.TempDir(), Sinks: []string{"webhook:https://soar.example/x"}}
	t.Setenv("TOCSIN_WEBHOOK_SECRET", "")
	if _, err := c.Options(nil); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("a webhook without a secret: %v", err)
	}
}

func TestOptionsDefaultsAndChecks(t *testing.T) {
	sink, _ := OpenSTIXDir(t.TempDir())
	base := Options{CredsFile: "x.creds", Servers: "nats://x", StateDir: "s", Sinks: []Sink{sink}}
	o, err := base.withDefaults()
	if err != nil || o.Batch != auth.ConsumerMaxAckPending || o.Receipts != ReceiptsAll || o.FetchWait != 10*time.Second || o.Recent != 100 {
		t.Fatalf("%+v, %v", o, err)
	}
	o.HTTPAddr = ":8787"
	if o, _ = o.withDefaults(); o.HTTPAddr != "127.0.0.1:8787" {
		t.Fatalf("a bare port binds %s, want loopback", o.HTTPAddr)
	}
	for name, change := range map[string]func(*Options){
		"no creds":   func(o *Options) { o.CredsFile = "" },
		"no sinks":   func(o *Options) { o.Sinks = nil },
		"no state":   func(o *Options) { o.StateDir = "" },
		"bad lane":   func(o *Options) { o.Lanes = []string{"flsh"} },
		"receipts":   func(o *Options) { o.Receipts = "some" },
		"negative":   func(o *Options) { o.Batch = -1 },
		"big batch":  func(o *Options) { o.Batch = auth.ConsumerMaxAckPending + 1 },
		"short wait": func(o *Options) { o.FetchWait = time.Millisecond },
	} {
		o := base
		change(&o)
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestLazyCursorRehandlesOnlyAfterACrash: a queue without a durable cursor
// writes it at most once a second; a crash (no close) re-handles what was
// handled since, a close loses nothing.
func TestLazyCursorRehandlesOnlyAfterACrash(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, "q", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.append([]byte("one"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, next, err := q.peek(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.advance(next); err != nil {
			t.Fatal(err)
		}
	}
	q.f.Close() // a crash: the second advance is not on disk yet
	if q, err = openQueue(dir, "q", false); err != nil {
		t.Fatal(err)
	}
	items, next, _ := q.peek(10)
	if len(items) != 1 || string(items[0]) != "two" {
		t.Fatalf("after a crash: %q, want the frame handled in the last second again", items)
	}
	if err := q.advance(next); err != nil {
		t.Fatal(err)
	}
	if err := q.append([]byte("three")); err != nil {
		t.Fatal(err)
	}
	_, next, _ = q.peek(1)
	if err := q.advance(next); err != nil { // within the second: lazy
		t.Fatal(err)
	}
	if err := q.close(); err != nil {
		t.Fatal(err)
	}
	if q, err = openQueue(dir, "q", false); err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if items, _, _ := q.peek(10); len(items) != 0 {
		t.Fatalf("after a close: %q, want nothing left", items)
	}
}
