package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// At the hub `tocsin status` does not ask tocsin.svc.site, which only a
// site answers and the hub refuses as a permissions violation (logged by
// the node, waited out by the CLI). At a site it does: cmd/tocsin
// TestDevSitesForwardToTheHub runs `tocsin status` at one and reads its link.
func TestStatusAtTheHubDoesNotAskForASite(t *testing.T) {
	d := startDevCluster(t)
	c, _, err := d.connect(filepath.Join(d.data, "creds", "admin.creds"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if atSite(c.Conn()) {
		t.Fatalf("server %q taken for a site", c.Conn().ConnectedServerName())
	}
	code, out, errOut := d.cli("status", "--creds", filepath.Join(d.data, "creds", "admin.creds"))
	if code != 0 || !strings.Contains(out, "SECTORS") || strings.Contains(errOut, "svc.site") {
		t.Fatalf("status at the hub: exit %d\n%s%s", code, out, errOut)
	}
}
