package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
)

// `tocsin dev --sites 2` runs two member sites, leaf nodes of the dev
// cluster: a member's status report sent at its site reaches the hub's
// regional board, and `tocsin status` at the site shows its link up.
func TestDevSitesForwardToTheHub(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	args, hub := devArgs(t, data)
	dev := start(t, append(args, "--sites", "2")...)
	dev.waitFor(t, "ready in", 90*time.Second)
	m := regexp.MustCompile(`site of st-mary (nats://\S+)`).FindStringSubmatch(dev.Output())
	if m == nil || !strings.Contains(dev.Output(), "site of riverside nats://") {
		t.Fatalf("no sites in the banner:\n%s", dev.Output())
	}
	siteURL, creds := m[1], filepath.Join(data, "creds", "st-mary.creds")
	out, errOut, code := run(t, 30*time.Second, "status-report", "--state", "diverting", "--note", "from the site", "--server", siteURL, "--creds", creds)
	if code != 0 || !strings.Contains(out, "queued at the site") {
		t.Fatalf("status-report at the site: exit %d: %s %s", code, out, errOut)
	}
	testwait.For(t, 30*time.Second, "the site's report on the hub's board", func() error {
		out, _, _ := run(t, 30*time.Second, "situation", "--server", strings.Split(hub, ",")[0], "--creds", creds)
		if !strings.Contains(out, "from the site") {
			return fmt.Errorf("the board: %s", out)
		}
		return nil
	})
	out, _, code = run(t, 30*time.Second, "status", "--server", siteURL, "--creds", creds)
	if code != 0 || !strings.Contains(out, "link to the hub: up") {
		t.Fatalf("tocsin status at the site: exit %d:\n%s", code, out)
	}
	t.Log(out)
	dev.stop(t)
}
