package cli

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/bench/fanout"
)

// TestBenchFanoutProcs runs bench fanout with 60 agents in 3 processes
// against 3 node processes: every agent process reports its agents and
// its resident set, every node its own, every alert reaches every agent
// and raw consumer, the one agent measured alone runs as the agent-only
// binary (--agent-binary) idle and through its catch-up, and the JSON and
// the table carry each figure.
func TestBenchFanoutProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tocsin, starts node and agent processes")
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"bench", "fanout", "--procs", "2"}, &out, &errOut); code != ExitUsage {
		t.Fatalf("--procs without --nodes-procs: exit %d, want %d", code, ExitUsage)
	}
	bin, agentBin := buildTocsin(t, "tocsin"), buildTocsin(t, "tocsin-agent")
	out.Reset()
	errOut.Reset()
	args := []string{"bench", "fanout", "--agents", "60", "--procs", "3", "--nodes-procs", "--rate", "4", "--duration", "2s",
		"--catchup", "200", "--binary", bin, "--agent-binary", agentBin, "--json"}
	if code := Main(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var keys map[string]any
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	for _, k := range []string{"p99_ratio_vs_raw", "tocsin", "raw", "catch_up", "procs"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("--json lacks %q: %s", k, out.String())
		}
	}
	var r fanout.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Tocsin.Expected != 60*r.Tocsin.Published || r.Tocsin.Delivered != r.Tocsin.Expected || r.Raw.Delivered != r.Raw.Expected || r.P99RatioVsRaw <= 0 {
		t.Fatalf("deliveries: tocsin %d of %d, raw %d of %d, p99 ratio %.2f", r.Tocsin.Delivered, r.Tocsin.Expected, r.Raw.Delivered, r.Raw.Expected, r.P99RatioVsRaw)
	}
	p := r.Procs
	if p == nil || len(p.AgentProcs) != 3 || len(p.Nodes) != 3 {
		t.Fatalf("processes: %+v", p)
	}
	for i, a := range p.AgentProcs {
		if a.Agents != 20 || a.Idle <= 0 || a.Peak < a.Idle {
			t.Errorf("agent process %d: %+v", i, a)
		}
	}
	for _, n := range p.Nodes {
		if n.Admitted <= 0 || n.Live <= 0 || n.Peak <= 0 {
			t.Errorf("node %+v", n)
		}
	}
	if p.OneAgentIdleFile <= 0 || p.OneAgentIdleFile >= p.OneAgentIdle {
		t.Errorf("the one agent's file pages: %d of %d", p.OneAgentIdleFile, p.OneAgentIdle)
	}
	if p.OneAgentBinary != agentBin {
		t.Errorf("the one agent ran as %q, not the agent-only binary %s", p.OneAgentBinary, agentBin)
	}
	if p.AgentRSSPerAgent <= 0 || p.OneAgentIdle <= 0 || p.OneAgentCatchUp <= 0 || r.CatchUp == nil || r.CatchUp.Alerts < 200 {
		t.Errorf("memory or catch-up missing: %+v %+v", p, r.CatchUp)
	}
	var table bytes.Buffer
	if err := printFanout(&globals{stdout: &table}, &r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p99 tocsin / raw", "node chaos-1", "node chaos-3", "agents-2", "agent process RSS per agent",
		"one agent in its own process", "catch-up of"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
}

// buildTocsin builds ../../<name> (cmd/tocsin, cmd/tocsin-agent) into a
// temporary directory and returns the binary's path.
func buildTocsin(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if b, err := exec.Command("go", "build", "-o", bin, filepath.Join("..", "..", name)).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, b)
	}
	return bin
}
