package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/jsctx"
)

// regionsGateway is a gateway: section of a node of east, with west and a
// witness, holding extra (regions, registry_region, streams_region).
func regionsGateway(extra string) string {
	return gatewayBase + `
cluster:
  listen: 127.0.0.1:6222
  routes: [nats-route://127.0.0.1:6223, nats-route://127.0.0.1:6224]
  tls: {cert: c.pem, key: k.pem, ca: ca.pem}
gateway:
  gateways:
    - {name: west, urls: [nats://10.2.0.11:7222]}
    - {name: witness, urls: [nats://10.3.0.11:7222]}
  tls: {cert: c.pem, key: k.pem, ca: ca.pem}
` + extra
}

func TestNodeConfigGatewayRegionsGiveTheNodeItsRegionsSet(t *testing.T) {
	o, err := loadConfig(t, regionsGateway("  regions: [east, west]\n  registry_region: west\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := o.Node.Gateway
	set, ok := g.RegionSet("east")
	if !ok || set.Region != "east" || !slices.Equal(set.Regions, []string{"east", "west"}) || set.RegistryRegion != "west" || g.StreamsRegion != "" {
		t.Fatalf("east's set %+v (%v), streams region %q", set, ok, g.StreamsRegion)
	}
	if set.RegistryBucket() != "MEMBERS-east" {
		t.Fatalf("east reads the registry from %s, want its mirror MEMBERS-east", set.RegistryBucket())
	}
	if _, ok := g.RegionSet("witness"); ok {
		t.Fatal("the witness, not in regions, holds a set")
	}
}

func TestNodeConfigGatewayRegionsRefusals(t *testing.T) {
	for _, tc := range []struct{ name, extra, want string }{
		{"neither", "", `gateway.streams_region: "" is not this node's region`},
		{"both", "  streams_region: east\n  regions: [east, west]\n  registry_region: east\n", "gateway.streams_region: set together with gateway.regions"},
		{"one region", "  regions: [east]\n  registry_region: east\n", "gateway.regions: [east]: a stream set per region needs two regions or more"},
		{"unknown region", "  regions: [east, north]\n  registry_region: east\n", `gateway.regions[1]: "north" is not this node's region`},
		{"twice", "  regions: [east, west, east]\n  registry_region: east\n", `gateway.regions[2]: region "east" is listed twice`},
		{"no registry region", "  regions: [east, west]\n", `gateway.registry_region: "" is not one of gateway.regions`},
		{"registry on the witness", "  regions: [east, west]\n  registry_region: witness\n", `gateway.registry_region: "witness" is not one of gateway.regions`},
		{"registry without regions", "  streams_region: east\n  registry_region: east\n", "gateway.registry_region: set without gateway.regions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(t, regionsGateway(tc.extra))
			if !errors.Is(err, broker.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("config: %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// The server's names follow the node's shape: its region's set, none on a
// witness, the single cluster's otherwise.
func TestNodeStreamNamesFollowItsRegionsSet(t *testing.T) {
	load := func(extra string) shape {
		t.Helper()
		o, err := loadConfig(t, regionsGateway(extra))
		if err != nil {
			t.Fatal(err)
		}
		return shapeOf(*o.Node)
	}
	east := load("  regions: [east, west]\n  registry_region: west\n")
	if east.setRegion() != "east" || east.holdsNoSet() || east.registryBucket() != "MEMBERS-east" || east.deadLetterBucket() != "DEADLETTER-east" ||
		!slices.Contains(east.streamNames(), "SECTORS-east") || slices.Contains(east.streamNames(), "SECTORS") || east.replicas() != 3 {
		t.Fatalf("east on sets: region %q, no set %v, registry %s, dead letters %s, streams %v, R%d",
			east.setRegion(), east.holdsNoSet(), east.registryBucket(), east.deadLetterBucket(), east.streamNames(), east.replicas())
	}
	one := load("  streams_region: east\n")
	if one.setRegion() != "" || one.holdsNoSet() || one.registryBucket() != "MEMBERS" || !slices.Equal(one.streamNames(), broker.StreamNames()) {
		t.Fatalf("one streams region: region %q, registry %s, streams %v", one.setRegion(), one.registryBucket(), one.streamNames())
	}
}

// A witness holds no set and checks the regions' streams at their R3, not
// at its own one node (why its /readyz never said ready).
func TestWitnessHoldsNoSetAndCountsTheRegionsReplicas(t *testing.T) {
	for _, extra := range []string{"  regions: [east, west]\n  registry_region: east\n", "  streams_region: east\n"} {
		yaml := strings.NewReplacer("cluster_name: east", "cluster_name: witness", "name: witness", "name: east",
			"  routes: [nats-route://127.0.0.1:6223, nats-route://127.0.0.1:6224]\n", "").Replace(regionsGateway(extra))
		o, err := loadConfig(t, yaml)
		if err != nil {
			t.Fatal(err)
		}
		w := shapeOf(*o.Node)
		sets := strings.Contains(extra, "regions")
		if w.replicas() != 3 || w.holdsNoSet() != sets || w.setRegion() != "" || (sets && len(w.streamNames()) != 0) {
			t.Fatalf("witness (%q): R%d, no set %v, region %q, streams %v", extra, w.replicas(), w.holdsNoSet(), w.setRegion(), w.streamNames())
		}
	}
}

// tocsin status merges every answering node's view: on stream sets each
// region's streams and dead letters once, from the answer that listed the
// most of them (east-3's stream reads timed out), a witness's empty answer
// adding nothing.
func TestStatusMergesEveryRegionsSet(t *testing.T) {
	east := func(node string) *Status {
		return &Status{Node: node, Region: "east", Streams: []StreamStatus{{Name: "SECTORS-east", Leader: "east-1"}}, DeadLetters: 2}
	}
	timedOut := &Status{Node: "east-3", Region: "east", Problems: []string{"stream SECTORS-east: context deadline exceeded"}}
	west := &Status{Node: "west-1", Region: "west", Streams: []StreamStatus{{Name: "SECTORS-west", Leader: "west-2"}}, DeadLetters: 1}
	m := Merge([]*Status{{Node: "witness-1"}, timedOut, east("east-1"), west, east("east-2")})
	var names []string
	for _, s := range m.Streams {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"SECTORS-east", "SECTORS-west"}) || m.DeadLetters != 3 {
		t.Fatalf("merged streams %v, %d dead letters; want each region's once, 3", names, m.DeadLetters)
	}
}

// Every node of a region may take itself for its region's provisioner
// (provisionsRegion counts the routes it has, none yet at a cold start):
// each node's provisioning, as start runs it (retry of ProvisionRegion),
// all at once and twice over, succeeds and leaves exactly one set.
func TestARegionsSetProvisionedByEveryNodeAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{DataDir: t.TempDir(), BasePort: broker.RandomPort, NamePrefix: "east",
		Configure: func(_ int, o *broker.NodeOptions) { o.ClusterName = "east" }}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	set := broker.RegionSet{Region: "east", Regions: []string{"east", "west"}, RegistryRegion: "east", Replicas: 3}
	var js []jetstream.JetStream
	for _, u := range c.ClientURLs() {
		nc, err := nats.Connect(u)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		j, err := jsctx.JetStream(nc)
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, j)
	}
	errs := make([]error, 2*len(js))
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = retry(ctx, func() error { return broker.ProvisionRegion(ctx, js[i%len(js)], set) }) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("provisioning %d of %d through east-%d: %v", i+1, len(errs), i%len(js)+1, err)
		}
	}
	if err := broker.CheckProvisionedRegion(ctx, js[0], set); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range js[0].StreamNames(ctx).Name() {
		names = append(names, n)
	}
	want := set.StreamNames()
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("streams %v, want the set's %v", names, want)
	}
}
