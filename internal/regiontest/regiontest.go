// Package regiontest starts, for tests, an in-process supercluster whose
// regions each hold their own stream set (broker.RegionSet,
// docs/REGIONS.md): operator-mode authentication with the given members'
// accounts, each region's set provisioned, a service's JetStream context
// in each region.
package regiontest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Options configure a World.
type Options struct {
	// Regions are the supercluster's regions, each holding a stream set at
	// its node count's replicas. Required, two or more.
	Regions []broker.RegionSpec
	// Registry is the region that holds the registry (RegionSet's
	// RegistryRegion). Default: the first region.
	Registry string
	// Members are the members whose accounts every node starts with. Default
	// none.
	Members []*tocsinv1.Member
	// Leaf, when set, gives every node (all alike: one JetStream domain) a
	// leaf listener so adjusted, plain text on a random port. Default none.
	Leaf func(region string, i int, l *broker.LeafOptions)
	// Only, when set, provisions only these streams and buckets of each
	// set, by their single-cluster names ("INGEST", "SECTORS", "SITES"),
	// which is quicker. Default: the whole set (broker.ProvisionRegion).
	Only []string
}

// World is a running supercluster of stream sets.
type World struct {
	t *testing.T
	// Auth is the operator's authority.
	Auth *auth.Authority
	// SC is the supercluster.
	SC *broker.Supercluster
	// Sets are each region's stream set, by region.
	Sets map[string]broker.RegionSet
	svc  []byte
	js   map[string]jetstream.JetStream
}

// Start starts the supercluster and provisions every region's set; it all
// stops when the test ends.
func Start(t *testing.T, opts Options) *World {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	jwts, err := a.AccountJWTs(opts.Members)
	if err != nil {
		t.Fatal(err)
	}
	sa := a.ServerAuth(jwts)
	sc, err := broker.StartSupercluster(ctx, broker.SuperclusterOptions{Regions: opts.Regions, DataDir: t.TempDir(),
		Configure: func(region string, i int, o *broker.NodeOptions) {
			o.Auth = sa
			if opts.Leaf != nil {
				o.Leaf = &broker.LeafOptions{Port: broker.RandomPort, InsecureNoTLS: true}
				opts.Leaf(region, i, o.Leaf)
			}
		}}, zaptest.NewLogger(t).Named("regions"))
	if err != nil {
		t.Fatalf("start the supercluster: %v", err)
	}
	t.Cleanup(sc.Shutdown)
	svc, err := a.IssueService("svc-regiontest")
	if err != nil {
		t.Fatal(err)
	}
	w := &World{t: t, Auth: a, SC: sc, Sets: map[string]broker.RegionSet{}, svc: svc, js: map[string]jetstream.JetStream{}}
	var names []string
	for _, r := range opts.Regions {
		names = append(names, r.Name)
	}
	if opts.Registry == "" {
		opts.Registry = names[0]
	}
	for _, r := range opts.Regions {
		set := broker.RegionSet{Region: r.Name, Regions: names, RegistryRegion: opts.Registry, Replicas: len(sc.Region(r.Name))}
		w.Sets[r.Name] = set
		js := w.JS(r.Name)
		if len(opts.Only) == 0 {
			testwait.For(t, 2*time.Minute, "region "+r.Name+"'s stream set", func() error { return broker.ProvisionRegion(ctx, js, set) })
			continue
		}
		for _, cfg := range set.StreamConfigs() {
			if slices.Contains(opts.Only, strings.TrimSuffix(cfg.Name, "-"+r.Name)) {
				testwait.For(t, time.Minute, "stream "+cfg.Name, func() error { _, err := js.CreateOrUpdateStream(ctx, cfg); return err })
			}
		}
		for _, cfg := range set.KVConfigs() {
			if slices.Contains(opts.Only, strings.TrimSuffix(cfg.Bucket, "-"+r.Name)) {
				testwait.For(t, time.Minute, "bucket "+cfg.Bucket, func() error { _, err := js.CreateOrUpdateKeyValue(ctx, cfg); return err })
			}
		}
	}
	return w
}

// Connect connects to region's nodes with creds (reconnecting across a
// node's loss); it closes when the test ends.
func (w *World) Connect(region string, creds []byte, opts ...nats.Option) *nats.Conn {
	w.t.Helper()
	opt, err := auth.CredsOption(creds)
	if err != nil {
		w.t.Fatal(err)
	}
	nc, err := nats.Connect(w.SC.ClientURL(region), append([]nats.Option{opt, nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		w.t.Fatalf("connect to region %s: %v", region, err)
	}
	w.t.Cleanup(nc.Close)
	return nc
}

// JS is a JetStream context with a service's rights, connected to
// region's nodes.
func (w *World) JS(region string) jetstream.JetStream {
	w.t.Helper()
	if js, ok := w.js[region]; ok {
		return js
	}
	js, err := jetstream.New(w.Connect(region, w.svc))
	if err != nil {
		w.t.Fatal(err)
	}
	w.js[region] = js
	return js
}

// SiteCreds issues m's site credentials (auth.IssueSite) into a file and
// returns its path.
func (w *World) SiteCreds(m *tocsinv1.Member) string {
	w.t.Helper()
	creds, err := w.Auth.IssueSite(m)
	if err != nil {
		w.t.Fatal(err)
	}
	path := filepath.Join(w.t.TempDir(), m.GetId()+"-site.creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}
