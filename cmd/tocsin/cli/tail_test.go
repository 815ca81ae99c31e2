package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
)

// syncBuffer is a buffer a running command writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tailing is a `tocsin tail` running in the background.
type tailing struct {
	out, err syncBuffer
	done     chan int
}

// startTail runs tocsin tail with args on d and waits until it watches.
func startTail(t *testing.T, d *devCluster, args ...string) *tailing {
	t.Helper()
	tl := &tailing{done: make(chan int, 1)}
	full := append([]string{"tail", "--server", d.url, "--tls-ca", d.ca, "--timeout", "20s"}, args...)
	go func() { tl.done <- Main(full, &tl.out, &tl.err) }()
	testwait.For(t, 30*time.Second, "tocsin tail "+strings.Join(args, " ")+" to watch", testwait.True(func() bool {
		return strings.Contains(tl.err.String(), "watching")
	}))
	return tl
}

// wait waits for the tail to end (its --count reached) and returns what it
// printed.
func (tl *tailing) wait(t *testing.T) string {
	t.Helper()
	select {
	case code := <-tl.done:
		if code != ExitOK {
			t.Fatalf("tocsin tail: exit %d\n%s%s", code, tl.out.String(), tl.err.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("tocsin tail did not show its messages within 60s; it printed:\n%s%s", tl.out.String(), tl.err.String())
	}
	return tl.out.String()
}

// TestTailShowsSightingCounts: three other hospitals see the C2 address of
// St. Mary's alert; `tocsin tail` shows, in the sector and to St. Mary,
// "seen at fewer than 3 other organisations" and then "seen at 3", with
// the indicator and its pattern; --json carries no number below 3.
func TestTailShowsSightingCounts(t *testing.T) {
	d := startDevCluster(t)
	creds := func(id string) string { return filepath.Join(d.data, "creds", id+".creds") }
	var res publishResult
	out := d.must("alert", "publish", "--creds", creds("st-mary"), "--wait", "--json", "--file", filepath.Join("..", "..", "..", "examples", "st-mary-ransomware.json"),
		"--tlp", "amber", "--sectors", "patient-care", "--title", "ransomware via vendor VPN")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Outcome != "routed" {
		t.Fatalf("alert publish: %s %v", out, err)
	}
	const c2, pattern = "indicator--7d1b64d9-294c-54e2-9baa-ab83f406625e", "[ipv4-addr:value = '198.51.100.23']"
	mary := startTail(t, d, "--creds", creds("st-mary"), "--count", "2")
	hilltop := startTail(t, d, "--creds", creds("hilltop"), "--json", "--count", "2")
	for _, m := range []string{"riverside", "valley-general", "lakeside-childrens"} {
		d.must("sighting", "report", "--creds", creds(m), "--indicator", c2)
	}
	text := mary.wait(t)
	for _, want := range []string{
		"seen at fewer than 3 other organisations in patient-care: " + c2 + " " + pattern + " (alert " + res.ID + ")",
		"seen at 3 other organisations in patient-care: " + c2 + " " + pattern + " (alert " + res.ID + ")",
		"verified from svc-", "TLP:AMBER",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("st-mary's tail: want %q in:\n%s", want, text)
		}
	}
	lines := strings.Split(strings.TrimSpace(hilltop.wait(t)), "\n")
	if len(lines) != 2 {
		t.Fatalf("hilltop's tail --json: %d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var got []tailLine
	for _, l := range lines {
		var tl tailLine
		if err := json.Unmarshal([]byte(l), &tl); err != nil || tl.Sighting == nil || !tl.Verified {
			t.Fatalf("hilltop's tail --json: %q: %v, want a verified sighting summary", l, err)
		}
		got = append(got, tl)
	}
	first, second := got[0].Sighting, got[1].Sighting
	if strings.Contains(lines[0], `"organisations"`) || first.FewerThan != 3 || first.IndicatorID != c2 || first.Pattern != pattern || first.AlertID != res.ID {
		t.Errorf("below the floor: %s, want fewer_than 3, no organisations, the indicator and pattern", lines[0])
	}
	if second.Organisations != 3 || second.FewerThan != 0 || second.IndicatorID != c2 || got[1].TLP != "amber" || got[1].Lane != "info" {
		t.Errorf("at the floor: %s, want organisations 3, TLP amber, lane info", lines[1])
	}
}
