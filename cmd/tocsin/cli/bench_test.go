package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/bench/fanout"
)

// TestBenchFanoutSmall runs the fan-out benchmark command small: every
// alert reaches every agent and every raw consumer, the catch-up agent
// catches up, and the table names each figure.
func TestBenchFanoutSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and agents")
	}
	args := []string{"bench", "fanout", "--agents", "6", "--rate", "4", "--duration", "2s", "--catchup", "300", "--receipts", "all"}
	var out, errOut bytes.Buffer
	if code := Main(append(args, "--json"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r fanout.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	if r.Tocsin.Expected == 0 || r.Tocsin.Delivered != r.Tocsin.Expected || r.Raw.Delivered != r.Raw.Expected {
		t.Fatalf("deliveries: tocsin %d of %d, raw %d of %d", r.Tocsin.Delivered, r.Tocsin.Expected, r.Raw.Delivered, r.Raw.Expected)
	}
	if r.CatchUp == nil || r.CatchUp.Alerts < 300 || r.CatchUp.AgentPerSec <= 0 || r.CatchUp.RawPerSec <= 0 {
		t.Fatalf("catch-up: %+v", r.CatchUp)
	}
	if !strings.Contains(errOut.String(), "done in") {
		t.Fatalf("no progress lines on stderr: %s", errOut.String())
	}
	if code := Main([]string{"bench", "fanout", "--receipts", "some"}, &out, &errOut); code != ExitUsage {
		t.Fatalf("--receipts some: exit %d, want %d", code, ExitUsage)
	}
}

func TestBenchPageSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and agents")
	}
	var out, errOut bytes.Buffer
	args := []string{"bench", "page", "--agents", "3", "--alerts", "2", "--interval", "100ms", "--escalate-after", "300ms"}
	if code := Main(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"publish to page (PagerDuty 202)", "second step, after its deadline", "paging adds"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := Main(append(args, "--json"), &out, &errOut); code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut.String())
	}
	var r fanout.PageResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Expected != 6 || r.Paged != 6 || r.Escalated != 6 {
		t.Fatalf("--json: %v %+v", err, r)
	}
}
