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

// TestShortChaos is the CI run: every fault but the region faults once,
// with bad input, on three node processes, four agent processes and two
// member sites (the agents of two members read at their site, and those
// members publish there too); nothing acknowledged may be lost,
// duplicated or delivered unexpectedly, and every path (hub or site to a
// hub or site agent) must carry alerts. TOCSIN_CHAOS_SYNC sets the nodes'
// sync_interval (default always), TOCSIN_CHAOS_SEED the seed (default: a
// new one, logged first, to repeat a failure).
func TestShortChaos(t *testing.T) {
	o := shortOptions(t)
	shortRun(t, o, 8*time.Minute)
}

// TestShortChaosRegions is the short run of the region faults:
// deploy/regions on loopback (east and west, a stream set each, the
// registry in east; a witness), one agent at the hub (homed in east) and
// one at its site (homed in west), a publisher at each, a region's gateway
// cut and two region losses, one of each region (the first drawn from the
// seed), each restarted after the hold, without bad input.
func TestShortChaosRegions(t *testing.T) {
	o := shortOptions(t)
	o.Regions, o.NoBadInput = true, true
	o.Faults = append(RegionFaults(), FaultRegionLoss)
	o.Agents, o.Sites, o.Publishers, o.Recovery = 2, 1, 1, 90*time.Second
	shortRun(t, o, 10*time.Minute)
}

// shortOptions are the short runs' options, or skip t unless
// TOCSIN_CHAOS is set.
func shortOptions(t *testing.T) Options {
	if os.Getenv(shortEnv) == "" {
		t.Skipf("set %s=short to run the short chaos runs (minutes each; make chaos-short)", shortEnv)
	}
	seed := time.Now().UnixNano()%1000 + 1
	if s := os.Getenv("TOCSIN_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("TOCSIN_CHAOS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (TOCSIN_CHAOS_SEED=%d repeats this run)", seed, seed)
	return Options{Binary: tocsinBin, Duration: time.Second, Seed: seed, Sync: os.Getenv("TOCSIN_CHAOS_SYNC"),
		Hold: 5 * time.Second, SiteCut: 20 * time.Second, Recovery: 60 * time.Second, Drain: 90 * time.Second}
}

// shortRun runs o within d and fails t unless it passed.
func shortRun(t *testing.T, o Options, d time.Duration) {
	ctx := testContext(t, d)
	o.Dir, o.Progress = t.TempDir(), &lineWriter{t: t}
	r, err := Run(ctx, o, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	if err != nil {
		t.Fatalf("chaos run: %v", err)
	}
	checkEveryPath(t, r)
	var table strings.Builder
	r.PrintTable(&table)
	t.Logf("\n%s", table.String())
	if err := r.WriteJSON(filepath.Join(o.Dir, "report.json")); err != nil {
		t.Fatal(err)
	}
	if !r.Passed() {
		for _, a := range r.Agents {
			data, _ := os.ReadFile(filepath.Join(o.Dir, "logs", a.Member+".log"))
			t.Logf("%s log (end):\n%s", a.Member, tail(data, 1500))
		}
		t.Fatalf("the short chaos run failed (seed %d): %s", r.Seed, strings.Join(r.Failures, "; "))
	}
}

// checkEveryPath fails t unless the run delivered alerts on every path
// through the hub and the sites: published at the hub and at a site, read
// by an agent of the hub and of a site.
func checkEveryPath(t *testing.T, r *Report) {
	t.Helper()
	got := map[string]PathRow{}
	for _, p := range r.Paths {
		got[p.Path] = p
	}
	for _, path := range []string{"hub → hub agent", "hub → site agent", "site → hub agent", "site → site agent"} {
		if p := got[path]; p.Expected == 0 || p.Delivered != p.Expected {
			t.Errorf("path %s: %d deliveries expected, %d made: the run did not cover it", path, p.Expected, p.Delivered)
		}
	}
}

// lineWriter logs each write as a test log line.
type lineWriter struct{ t *testing.T }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
