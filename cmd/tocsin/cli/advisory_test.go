package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The liaison's advisories (text and STIX bundle) are routed; a member's is
// refused by the server itself, and the command says not-permitted.
func TestAdvisoryPublish(t *testing.T) {
	d := startDevCluster(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "advisory.md")
	if err := os.WriteFile(text, []byte("# Ransomware via vendor VPN appliances\n\nPatch CVE-2026-0001 now; block 198.51.100.7.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join("..", "..", "..", "examples", "st-mary-ransomware.json")
	creds := func(id string) string { return filepath.Join(d.data, "creds", id+".creds") }

	out := d.must("advisory", "publish", "--creds", creds("hhs-liaison"), "--file", text, "--tlp", "green", "--lane", "flash", "--exercise", "--wait")
	if !strings.Contains(out, "routed to 9 sectors") {
		t.Fatalf("liaison's text advisory to every sector:\n%s", out)
	}
	var res publishResult
	if err := json.Unmarshal([]byte(d.must("advisory", "publish", "--creds", creds("hhs-liaison"), "--file", bundle, "--title", "St. Mary's indicators",
		"--tlp", "amber", "--sectors", "patient-care,health-it", "--wait", "--json")), &res); err != nil || res.Outcome != "routed" || len(res.Sectors) != 2 || res.TLP != "amber" {
		t.Fatalf("liaison's bundle advisory: %+v %v", res, err)
	}

	code, out, errOut := d.cli("advisory", "publish", "--creds", creds("st-mary"), "--file", text, "--tlp", "green", "--wait")
	if code != ExitRejected || !strings.Contains(out, "not-permitted") || !strings.Contains(out, "only the liaison") {
		t.Fatalf("a member's advisory: exit %d, want %d and not-permitted\n%s%s", code, ExitRejected, out, errOut)
	}

	for _, tc := range []struct{ name, tlp, sectors, want string }{
		{"red", "red", "patient-care", "advisories go to sectors"},
		{"amber without sectors", "amber", "", "--sectors"},
	} {
		args := []string{"advisory", "publish", "--creds", creds("hhs-liaison"), "--file", text, "--tlp", tc.tlp}
		if tc.sectors != "" {
			args = append(args, "--sectors", tc.sectors)
		}
		if code, out, errOut := d.cli(args...); code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want %d naming %q\n%s%s", tc.name, code, ExitUsage, tc.want, out, errOut)
		}
	}
}
