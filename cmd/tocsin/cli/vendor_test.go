package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A vendor is admitted from a CSV file with its publisher namespace, shown
// with it, and publishes its own CSAF advisory: routed, the warnings
// printed (and in --json); under another namespace it is refused
// publisher-mismatch, a plain advisory not-permitted; a vendor without a
// namespace is not admitted, and a member still may not publish any.
func TestAVendorPublishesItsOwnCSAFAdvisories(t *testing.T) {
	d := startDevCluster(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "vendors.csv")
	if err := os.WriteFile(list, []byte("id,name,sectors,region,roles,contact,publisher_namespace\nzyx-devices,ZYX Medical Devices,patient-care,national,vendor,psirt@zyx.example,https://zyx.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "zyx-devices.creds")
	d.must("members", "add", "--file", list, "--out", creds)
	if out := d.must("members", "show", "zyx-devices"); !strings.Contains(out, "roles:") || !strings.Contains(out, "vendor") || !strings.Contains(out, "publisher namespace:  https://zyx.example") {
		t.Fatalf("members show:\n%s", out)
	}
	var shown memberJSON
	if err := json.Unmarshal([]byte(d.must("members", "show", "zyx-devices", "--json")), &shown); err != nil || shown.Namespace != "https://zyx.example" || shown.Roles[0] != "vendor" {
		t.Fatalf("members show --json: %+v %v", shown, err)
	}
	if code, out, errOut := d.cli("members", "add", "--id", "abc-devices", "--name", "ABC", "--sectors", "patient-care", "--region", "national", "--roles", "vendor", "--out", filepath.Join(dir, "abc.creds")); code != ExitUsage ||
		!strings.Contains(errOut, `member "abc-devices": publisher_namespace: required of a vendor`) {
		t.Fatalf("a vendor without a namespace: exit %d, want %d\n%s%s", code, ExitUsage, out, errOut)
	}

	own := icsma(t, dir, "icsma-17-017-01", "WHITE", func(v map[string]any) {
		v["document"].(map[string]any)["publisher"].(map[string]any)["namespace"] = "https://zyx.example"
	})
	out := d.must("csaf", "publish", "--creds", creds, "--file", own, "--sectors", "patient-care", "--wait")
	if !strings.Contains(out, "routed to 1 sector") || !strings.Contains(out, "routed with 3 warnings") || !strings.Contains(out, "  6.1.31 /product_tree/") {
		t.Fatalf("the vendor's own advisory:\n%s", out)
	}
	t.Logf("the vendor's own advisory:\n%s", out)
	var res publishResult
	decodeOut(t, d.must("csaf", "publish", "--creds", creds, "--file", own, "--sectors", "patient-care", "--wait", "--json"), &res)
	if res.Outcome != "routed" || res.WarningCount != 3 || len(res.Warnings) != 3 || res.Warnings[0].Test != "6.1.31" || res.Warnings[0].Path == "" || res.Warnings[0].Message == "" {
		t.Fatalf("--json: %+v", res)
	}

	notes := filepath.Join(dir, "notes.md")
	if err := os.WriteFile(notes, []byte("# Pump firmware\nUpdate it.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"under CISA's namespace", []string{"csaf", "publish", "--creds", creds, "--file", icsma(t, dir, "icsma-17-017-01", "WHITE", nil), "--wait"}, `publisher-mismatch: vendor "zyx-devices" publishes under the namespace "https://zyx.example"`},
		{"a plain advisory", []string{"advisory", "publish", "--creds", creds, "--file", notes, "--tlp", "clear", "--wait"}, "not-permitted: \"zyx-devices\" is a vendor: it publishes CSAF advisories only"},
		{"a member's", []string{"csaf", "publish", "--creds", filepath.Join(d.data, "creds", "st-mary.creds"), "--file", own, "--wait"}, "not-permitted: only the liaison may publish advisories, and vendors their own CSAF advisories"},
	} {
		code, out, errOut := d.cli(tc.args...)
		if code != ExitRejected || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s%s", tc.name, code, ExitRejected, tc.want, out, errOut)
		}
	}
}
