package chaos

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// shortEnv turns TestShortChaos on: it runs real processes for about four
// minutes, so `go test ./...` skips it unless make chaos-short (part of
// make test) sets it.
const shortEnv = "TOCSIN_CHAOS"

// TestShortChaos is the CI run: every fault once, with bad input, on three
// node processes and four agent processes; nothing acknowledged may be
// lost, duplicated or delivered unexpectedly. TOCSIN_CHAOS_SYNC sets the
// nodes' sync_interval (default always), TOCSIN_CHAOS_SEED the seed
// (default: a new one, logged first, to repeat a failure).
func TestShortChaos(t *testing.T) {
	if os.Getenv(shortEnv) == "" {
		t.Skipf("set %s=short to run the short chaos run (about 4 minutes; make chaos-short)", shortEnv)
	}
	ctx := testContext(t, 6*time.Minute)
	dir := t.TempDir()
	seed := time.Now().UnixNano()%1000 + 1
	if s := os.Getenv("TOCSIN_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("TOCSIN_CHAOS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (TOCSIN_CHAOS_SEED=%d repeats this run)", seed, seed)
	r, err := Run(ctx, Options{
		Binary: tocsinBin, Dir: dir, Duration: time.Second, Seed: seed, Sync: os.Getenv("TOCSIN_CHAOS_SYNC"),
		Hold: 5 * time.Second, Recovery: 60 * time.Second, Drain: 90 * time.Second, Progress: &lineWriter{t: t},
	}, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	if err != nil {
		t.Fatalf("chaos run: %v", err)
	}
	var table strings.Builder
	r.PrintTable(&table)
	t.Logf("\n%s", table.String())
	if err := r.WriteJSON(filepath.Join(dir, "report.json")); err != nil {
		t.Fatal(err)
	}
	if !r.Passed() {
		for _, a := range r.Agents {
			data, _ := os.ReadFile(filepath.Join(dir, "logs", a.Member+".log"))
			t.Logf("%s log (end):\n%s", a.Member, tail(data, 1500))
		}
		t.Fatalf("the short chaos run failed (seed %d): %s", r.Seed, strings.Join(r.Failures, "; "))
	}
}

// lineWriter logs each write as a test log line.
type lineWriter struct{ t *testing.T }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
