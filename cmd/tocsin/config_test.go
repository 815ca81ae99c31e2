package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bad configuration fails fast with exit code 1 and an error that names
// the field or the address, and leaves nothing running.
func TestBadNodeConfigFailsFast(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 4)
	good := func(extra string) string {
		return fmt.Sprintf("name: n1\nlisten: 127.0.0.1:%d\ncluster:\n  listen: 127.0.0.1:%d\n  routes: [nats-route://127.0.0.1:%d]\nstore_dir: %s\nhttp: 127.0.0.1:%d\n%s",
			ports[0], ports[1], ports[3], filepath.Join(dir, "store"), ports[2], extra)
	}
	cases := []struct {
		name, config string
		want         []string
	}{
		{"unknown field", good("nmae: typo\n"), []string{"field nmae not found"}},
		{"client port in use", strings.Replace(good(""), fmt.Sprintf("listen: 127.0.0.1:%d\ncluster", ports[0]), "listen: "+busyAddr+"\ncluster", 1), []string{busyAddr}},
		{"route port in use", strings.Replace(good(""), fmt.Sprintf("listen: 127.0.0.1:%d\n  routes", ports[1]), "listen: "+busyAddr+"\n  routes", 1), []string{busyAddr}},
		{"http port in use", strings.Replace(good(""), fmt.Sprintf("http: 127.0.0.1:%d", ports[2]), "http: "+busyAddr, 1), []string{"http", busyAddr}},
		{"store dir unusable", strings.Replace(good(""), filepath.Join(dir, "store"), filepath.Join(notADir, "store"), 1), []string{"store_dir", "cannot create"}},
		{"route unparsable", strings.Replace(good(""), fmt.Sprintf("[nats-route://127.0.0.1:%d]", ports[3]), "['nats-route://bad host:x']", 1), []string{"routes[0]", "bad host"}},
		{"route unresolvable", strings.Replace(good(""), fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3]), "nats-route://no-such-host.invalid:6222", 1), []string{"routes[0]", "no-such-host.invalid"}},
		{"route without port", strings.Replace(good(""), fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3]), "nats-route://127.0.0.1", 1), []string{"routes[0]", "nats-route://127.0.0.1"}},
		{"route bad scheme", strings.Replace(good(""), fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3]), "http://127.0.0.1:6222", 1), []string{"routes[0]", "scheme"}},
		{"sync interval", good("sync_interval: sometimes\n"), []string{"sync_interval", "sometimes"}},
		{"cluster without routes", strings.Replace(good(""), fmt.Sprintf("  routes: [nats-route://127.0.0.1:%d]\n", ports[3]), "", 1), []string{"cluster.routes"}},
		{"missing name", strings.Replace(good(""), "name: n1\n", "", 1), []string{"name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.yaml")
			if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, stderr, code := run(t, 30*time.Second, "node", "--config", path, "--log-level", "error")
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, stderr)
				}
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %s to fail; bad config must fail fast", d)
			}
			// Nothing half-started: every port of the config is free again.
			for _, p := range ports {
				l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
				if err != nil {
					t.Fatalf("port %d still in use after the failed start: %v", p, err)
				}
				l.Close()
			}
		})
	}
}
