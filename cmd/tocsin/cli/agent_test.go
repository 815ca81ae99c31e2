package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the command line and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Main(args, &out, &out)
	return code, out.String()
}

func TestAgentConfigIsStrictAndFlagsWin(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "agent.yaml")
	write := func(s string) {
		if err := os.WriteFile(config, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("creds: " + filepath.Join(dir, "missing.creds") + "\nstate: " + dir + "\nsinks: [\"jsonl:" + dir + "/a.jsonl\"]\nwebhook_sekret: x\n")
	if code, out := run(t, "agent", "--config", config); code != ExitUsage || !strings.Contains(out, "webhook_sekret") {
		t.Fatalf("unknown key: exit %d, %q; want %d naming the key", code, out, ExitUsage)
	}
	write("creds: " + filepath.Join(dir, "missing.creds") + "\nstate: " + dir + "\nsinks: [\"ftp:x\"]\n")
	if code, out := run(t, "agent", "--config", config); code != ExitUsage || !strings.Contains(out, "unknown sink type") {
		t.Fatalf("bad sink in the file: exit %d, %q", code, out)
	}
	// The flag replaces the file's sinks: now the missing creds are what fails.
	if code, out := run(t, "agent", "--config", config, "--sink", "stix-dir:"+filepath.Join(dir, "b")); code != ExitUsage || !strings.Contains(out, "missing.creds") {
		t.Fatalf("--sink over the file: exit %d, %q; want the creds to be the problem", code, out)
	}
	if code, out := run(t, "agent", "--sink", "jsonl:"+filepath.Join(dir, "c.jsonl")); code != ExitUsage || !strings.Contains(out, "state") {
		t.Fatalf("no state: exit %d, %q", code, out)
	}
}

func TestAckSightingReachUsage(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "x.creds")
	os.WriteFile(creds, []byte("not creds"), 0o600)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"ack", "not an id!"}, ExitUsage, "not a message id"},
		{[]string{"ack", "01J00000000000000000000000"}, ExitUsage, "--creds"},
		{[]string{"ack", "--creds", creds, "01J00000000000000000000000"}, ExitUsage, "creds"},
		{[]string{"sighting", "report", "--indicator", "malware--1"}, ExitUsage, "indicator--"},
		{[]string{"sighting", "report"}, ExitUsage, "indicator"},
		{[]string{"reach"}, ExitUsage, "arg"},
	} {
		code, out := run(t, c.args...)
		if code != c.code || !strings.Contains(out, c.says) {
			t.Errorf("tocsin %s: exit %d, %q; want %d saying %q", strings.Join(c.args, " "), code, out, c.code, c.says)
		}
	}
}

// TestAgentSOCSinkFlags: the hec and syslog sinks parse on the command
// line and their flags reach the config: the token file named by the flag
// is what a hec sink reads, and a syslog URL it cannot use is refused.
func TestAgentSOCSinkFlags(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TOCSIN_HEC_TOKEN", "")
	missing := filepath.Join(dir, "no.token")
	if code, out := run(t, "agent", "--state", dir, "--sink", "hec:https://splunk.example:8088", "--hec-token-file", missing); code != ExitUsage ||
		!strings.Contains(out, "no.token") {
		t.Fatalf("a missing token file: exit %d, %q", code, out)
	}
	if code, out := run(t, "agent", "--state", dir, "--sink", "syslog:tcp://siem.example:514?format=json"); code != ExitUsage ||
		!strings.Contains(out, "use cef or leef") {
		t.Fatalf("a bad syslog format: exit %d, %q", code, out)
	}
	if code, out := run(t, "agent", "--state", dir, "--sink", "syslog:tls://siem.example:6514", "--syslog-tls-ca", missing); code != ExitUsage ||
		!strings.Contains(out, "syslog_tls_ca") {
		t.Fatalf("a missing syslog CA: exit %d, %q", code, out)
	}
}

// TestAgentInventoryFlags: --inventory reaches the agent, which refuses a
// file that does not read before it starts (exit 1, naming the file and
// the fault); --aliases and --report-affected need an inventory.
func TestAgentInventoryFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "devices.csv")
	if err := os.WriteFile(bad, []byte("maker,model\nX,Y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"agent", "--creds", filepath.Join(dir, "missing.creds"), "--state", dir, "--sink", "jsonl:" + filepath.Join(dir, "a.jsonl")}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--inventory", bad}, `devices.csv: the header has no "vendor" column`},
		{[]string{"--report-affected"}, "--report-affected reports inventory matches"},
		{[]string{"--aliases", bad}, "--aliases"},
	} {
		if code, out := run(t, append(base, c.args...)...); code != ExitUsage || !strings.Contains(out, c.says) {
			t.Errorf("tocsin agent %s: exit %d, %q; want %d saying %q", strings.Join(c.args, " "), code, out, ExitUsage, c.says)
		}
	}
}
