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
		return fmt.Sprintf("name: n1\nlisten: 127.0.0.1:%d\ncluster:\n  listen: 127.0.0.1:%d\n  routes: [nats-route://127.0.0.1:%d]\nstore_dir: %s\nhttp: 127.0.0.1:%d\ninsecure_no_auth: true\ninsecure_no_tls: true\n%s",
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
	cases = append(cases, securityCases(t, good)...)
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

// securityCases are configs that would run a node unauthenticated or in
// plain text without saying so, or with credentials that are not a
// service's: refused, with a way out in the message.
func securityCases(t *testing.T, good func(string) string) []struct {
	name, config string
	want         []string
} {
	keys := filepath.Join(t.TempDir(), "keys")
	if out, errOut, code := run(t, 60*time.Second, "init", "--dir", keys, "--nodes", "n1", "--tls-hosts", "127.0.0.1"); code != 0 {
		t.Fatalf("tocsin init: exit %d\n%s%s", code, out, errOut)
	}
	node := filepath.Join(keys, "nodes", "n1")
	tls := fmt.Sprintf("{cert: %s, key: %s, ca: %s}", filepath.Join(node, "tls", "cert.pem"), filepath.Join(node, "tls", "key.pem"), filepath.Join(node, "tls", "ca.pem"))
	clientTLS := func(cfg string) string { return strings.Replace(cfg, "insecure_no_tls: true\n", "tls: "+tls+"\n", 1) }
	secure := func(cfg string) string {
		return strings.Replace(clientTLS(cfg), "  routes:", "  tls: "+tls+"\n  routes:", 1)
	}
	withAuth := func(authDir, creds string) string {
		return strings.Replace(secure(good("")), "insecure_no_auth: true\n", fmt.Sprintf("auth: %s\nservice_creds: %s\n", authDir, creds), 1)
	}
	return []struct {
		name, config string
		want         []string
	}{
		{"no auth", strings.Replace(good(""), "insecure_no_auth: true\n", "", 1), []string{"auth: required", "tocsin init", "insecure_no_auth"}},
		{"no tls", strings.Replace(good(""), "insecure_no_tls: true\n", "", 1), []string{"tls: required", "insecure_no_tls"}},
		{"no route tls", clientTLS(good("")), []string{"cluster.tls: required", "route port"}},
		{"tls and insecure_no_tls", secure(good("insecure_no_tls: true\n")), []string{"insecure_no_tls", "remove one"}},
		{"auth dir without jwts", withAuth(t.TempDir(), filepath.Join(node, "service.creds")), []string{"auth", "operator.jwt"}},
		{"auth without service_creds", strings.Replace(withAuth(node, "x"), "service_creds: x\n", "", 1), []string{"service_creds: required"}},
		{"admin creds as service creds", withAuth(node, filepath.Join(keys, "admin.creds")), []string{"service_creds", "member or admin"}},
		{"system creds as service creds", withAuth(node, filepath.Join(keys, "sys.creds")), []string{"service_creds", "no JetStream"}},
		{"another authority's service creds", withAuth(node, otherServiceCreds(t)), []string{"service_creds", "does not hold"}},
	}
}

// otherServiceCreds runs another tocsin init and returns its node's
// service credentials.
func otherServiceCreds(t *testing.T) string {
	keys := filepath.Join(t.TempDir(), "other")
	if _, errOut, code := run(t, 60*time.Second, "init", "--dir", keys, "--nodes", "n1"); code != 0 {
		t.Fatalf("tocsin init: %s", errOut)
	}
	return filepath.Join(keys, "nodes", "n1", "service.creds")
}
