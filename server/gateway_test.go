package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

const gatewayBase = `
name: east-1
cluster_name: east
insecure_no_auth: true
store_dir: STORE
tls: {cert: c.pem, key: k.pem}
`

func loadConfig(t *testing.T, yaml string) (Options, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(yaml, "STORE", t.TempDir())), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadNodeConfig(p)
}

func TestNodeConfigGatewayJoinsTheRegion(t *testing.T) {
	o, err := loadConfig(t, gatewayBase+`
cluster:
  listen: 127.0.0.1:6222
  routes: [nats-route://127.0.0.1:6223]
  tls: {cert: c.pem, key: k.pem, ca: ca.pem}
gateway:
  listen: 127.0.0.1:7222
  advertise: 10.1.0.11:7222
  streams_region: east
  gateways:
    - {name: west, urls: [nats://10.2.0.11:7222]}
  tls: {cert: c.pem, key: k.pem, ca: ca.pem}
`)
	if err != nil {
		t.Fatal(err)
	}
	g := o.Node.Gateway
	if g == nil || g.Host != "127.0.0.1" || g.Port != 7222 || g.Advertise != "10.1.0.11:7222" || g.StreamsRegion != "east" ||
		len(g.Remotes) != 1 || g.Remotes[0].Name != "west" || g.TLS == nil || g.TLS.CA != "ca.pem" {
		t.Fatalf("gateway options %+v", g)
	}
}

func TestNodeConfigGatewayRefusals(t *testing.T) {
	gw := func(tls string) string {
		return "gateway:\n  streams_region: east\n  gateways: [{name: west, urls: [nats://127.0.0.1:7222]}]\n" + tls
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"no gateway tls", gatewayBase + "cluster: {listen: 127.0.0.1:6222}\n" + gw(""), "gateway.tls: required"},
		{"plain text with gateway tls", strings.Replace(gatewayBase, "tls: {cert: c.pem, key: k.pem}", "insecure_no_tls: true", 1) +
			"cluster: {listen: 127.0.0.1:6222}\n" + gw("  tls: {cert: c.pem, key: k.pem, ca: ca.pem}\n"), "insecure_no_tls: set together with gateway.tls"},
		{"witness without a route listener", gatewayBase + gw("  tls: {cert: c.pem, key: k.pem, ca: ca.pem}\n"), "cluster.listen: required on a node alone in its region"},
		{"bad gateway listen", gatewayBase + "cluster: {listen: 127.0.0.1:6222}\n" + gw("  tls: {cert: c.pem, key: k.pem, ca: ca.pem}\n  listen: nowhere\n"), "gateway.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(t, tc.yaml)
			if !errors.Is(err, broker.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("config: %v, want it to say %q", err, tc.want)
			}
		})
	}
	// A witness: alone in its region, clustered on its route listener.
	o, err := loadConfig(t, gatewayBase+"cluster: {listen: 127.0.0.1:6222}\n"+gw("  tls: {cert: c.pem, key: k.pem, ca: ca.pem}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Node.Standalone || o.Node.ClusterPort != 6222 || len(o.Node.Routes) != 0 {
		t.Fatalf("witness: standalone %v, cluster port %d, routes %v; want clustered on 6222 without routes", o.Node.Standalone, o.Node.ClusterPort, o.Node.Routes)
	}
}

func TestStatusNamesTheRegionsANodeHasNoGatewayTo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := broker.StartSupercluster(ctx, broker.SuperclusterOptions{DataDir: t.TempDir(),
		Regions: []broker.RegionSpec{{Name: "a"}, {Name: "b", Nodes: 1}, {Name: "w", Nodes: 1}}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Shutdown)
	n := sc.Region("a")[0]
	if p := missingGateways(n); len(p) != 0 {
		t.Fatalf("every region up: problems %v", p)
	}
	sc.StopRegion("w")
	testwait.For(t, 30*time.Second, "status naming region w", func() error {
		st, err := nodeStatus(n)
		if err != nil {
			return err
		}
		for _, p := range st.Problems {
			if strings.Contains(p, "no gateway to region w") {
				return nil
			}
		}
		return fmt.Errorf("problems %v", st.Problems)
	})
	for _, p := range missingGateways(n) {
		if strings.Contains(p, "region b") {
			t.Fatalf("region b is up: %v", p)
		}
	}
}
