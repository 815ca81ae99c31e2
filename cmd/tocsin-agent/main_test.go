package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheAgentBinaryLinksNoServerCode: tocsin-agent depends on no
// nats-server package (the whole point of the binary: an agent's memory
// is its own, not a broker's code).
func TestTheAgentBinaryLinksNoServerCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "nats-server") || strings.HasSuffix(dep, "/tocsin/broker") || strings.HasSuffix(dep, "/tocsin/server") {
			t.Errorf("tocsin-agent links %s", dep)
		}
	}
}

// TestTheAgentBinaryIsTheAgentCommand: tocsin-agent has the agent
// command's flags and checks, with tocsin's exit code for a usage error.
func TestTheAgentBinaryIsTheAgentCommand(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(config, []byte("webhook_sekret_file: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", config}, "webhook_sekret"},
		{[]string{"--sink", "jsonl:" + filepath.Join(dir, "a.jsonl"), "--creds", filepath.Join(dir, "missing.creds"), "--state", dir}, "missing.creds"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"extra"}, "no arguments"},
		{[]string{"--log-level", "loud", "--sink", "jsonl:" + filepath.Join(dir, "b.jsonl")}, "--log-level"},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("tocsin-agent %v: exit %d, %q; want 1 naming %q", c.args, code, errOut.String(), c.want)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "--sink") || !strings.Contains(out.String(), "--creds") {
		t.Errorf("--help: exit %d:\n%s", code, out.String())
	}
}
