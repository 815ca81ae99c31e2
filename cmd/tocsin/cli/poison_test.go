package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/internal/worstcase"
	"github.com/tocsin-project/tocsin/server"
)

// Issue 16's done-when: `tocsin alert publish --wait` of the 3,500-indicator
// bundle (7,000 problems) exits 2 with a short coded rejection that says
// how many problems there were, and nothing is left to retry: the cluster
// counts no dead letter and the router goes idle. It used to exit 4 while
// the router retried the alert every second. The 10 s goal is timed by
// alerts.BenchmarkPoisonAlertRejection (here -race and a loaded machine
// took 2-21 s), so this waits up to 2 minutes for the decision.
func TestPoisonAlertPublishWaitExitsRejected(t *testing.T) {
	d := startDevCluster(t)
	file := filepath.Join(t.TempDir(), "poison.json")
	if err := os.WriteFile(file, worstcase.SecondTimestamps(3500), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(d.data, "creds", "st-mary.creds")
	start := time.Now()
	code, out, errOut := d.cli("alert", "publish", "--creds", creds, "--file", file, "--tlp", "green", "--sectors", "patient-care", "--exercise", "--wait", "--timeout", "2m")
	took := time.Since(start)
	t.Logf("exit %d after %s:\n%s%s", code, took.Round(time.Millisecond), out, errOut)
	if code != ExitRejected {
		t.Fatalf("exit %d after %s, want %d (rejected)", code, took, ExitRejected)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(lines[0], "7000 problems") || !strings.Contains(out, "schema: ") || len(lines) > shownProblems+2 || !strings.Contains(out, "and 6990 more") {
		t.Fatalf("want a short rejection: the count, %d coded problems and how many more; got %d lines:\n%s", shownProblems, len(lines), out)
	}

	var res publishResult
	code, out, _ = d.cli("alert", "publish", "--creds", creds, "--file", file, "--tlp", "green", "--sectors", "patient-care", "--exercise", "--wait", "--json", "--timeout", "2m")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != ExitRejected || res.ProblemCount != 7000 || len(res.Rejections) != codes.MaxProblems {
		t.Fatalf("--json: exit %d, %d problems listed of %d (%v); want %d, the first %d of 7000", code, len(res.Rejections), res.ProblemCount, err, ExitRejected, codes.MaxProblems)
	}

	// Decided means acknowledged: the router spends nothing more on it.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before := cpu()
	time.Sleep(3 * time.Second) // measuring idle: a window, not a wait for a condition
	t.Logf("the whole dev cluster used %s of CPU in the 3 s after the rejections", (cpu() - before).Round(time.Millisecond))
	var st server.Status
	code, out, errOut = d.cli("status", "--json", "--creds", filepath.Join(d.data, "creds", "admin.creds"))
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.DeadLetters != 0 {
		t.Fatalf("status: exit %d, %d dead letters (%v), want 0:\n%s%s", code, st.DeadLetters, err, out, errOut)
	}
}
