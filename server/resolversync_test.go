package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/broker"
)

// TestNodeConfigResolverSync: resolver_sync reaches the node's options (the
// broker defaults it when unset), and a duration that is not positive is
// refused naming the key.
func TestNodeConfigResolverSync(t *testing.T) {
	dir := t.TempDir()
	write := func(extra string) string {
		p := filepath.Join(dir, "node.yaml")
		cfg := "name: n1\nstore_dir: " + filepath.Join(dir, "store") + "\ninsecure_no_auth: true\ninsecure_no_tls: true\n" + extra
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		yaml string
		want time.Duration
	}{{"", 0}, {"resolver_sync: 90s\n", 90 * time.Second}, {"resolver_sync: 1d\n", 24 * time.Hour}} {
		o, err := LoadNodeConfig(write(c.yaml))
		if err != nil || o.Node.ResolverSync != c.want {
			t.Fatalf("%q: resolver sync %v, %v; want %v", c.yaml, o.Node, err, c.want)
		}
	}
	for _, bad := range []string{"resolver_sync: soon\n", "resolver_sync: 0s\n"} {
		if _, err := LoadNodeConfig(write(bad)); !errors.Is(err, broker.ErrInvalidOptions) || !strings.Contains(err.Error(), "resolver_sync") {
			t.Fatalf("%q: %v, want an error naming resolver_sync", bad, err)
		}
	}
}
