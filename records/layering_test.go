package records_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestTheLayersHold: the agent, mutual aid and the web face read the
// router's records through this package, not through the router; and a
// member's client links no server code.
func TestTheLayersHold(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	deps := func(pkgs ...string) []string {
		out, err := exec.Command(goBin, append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", strings.Join(pkgs, " "), err, out)
		}
		return strings.Fields(string(out))
	}
	for _, d := range deps("../agent", "../mutualaid", "../web/...") {
		if d == "github.com/tocsin-project/tocsin/alerts" {
			t.Errorf("the agent, mutual aid or the web face links the router (%s): read its records through package records", d)
		}
	}
	for _, d := range deps("../client") {
		if strings.HasPrefix(d, "github.com/nats-io/nats-server/") {
			t.Errorf("the member's client links %s: keep server code out of client, auth and what they import", d)
		}
	}
}
