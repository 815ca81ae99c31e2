package broker

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// syncInterval reads the interval a node's full resolver was built with
// (an unexported field of nats-server's DirAccResolver).
func syncInterval(t *testing.T, n *Node) time.Duration {
	t.Helper()
	res, ok := n.Server().AccountResolver().(*server.DirAccResolver)
	if !ok {
		t.Fatalf("node %s: resolver %T, want the full directory resolver", n.Name(), n.Server().AccountResolver())
	}
	f := reflect.ValueOf(res).Elem().FieldByName("syncInterval")
	if !f.IsValid() {
		t.Fatal("nats-server's DirAccResolver has no syncInterval field any more: read its Start again")
	}
	return time.Duration(f.Int())
}

func TestNodeResolverSyncIsTenMinutesUnlessTold(t *testing.T) {
	a := testAuthority(t)
	for _, c := range []struct {
		set, want time.Duration
	}{{0, DefaultResolverSync}, {90 * time.Second, 90 * time.Second}} {
		n, err := NewNode(NodeOptions{Name: "n1", StoreDir: t.TempDir(), Standalone: true, Port: RandomPort, Auth: a.ServerAuth(nil), ResolverSync: c.set}, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		got := syncInterval(t, n)
		n.Shutdown()
		if got != c.want {
			t.Fatalf("resolver_sync %v: the resolver syncs every %v, want %v", c.set, got, c.want)
		}
	}
	if DefaultResolverSync != 10*time.Minute {
		t.Fatalf("DefaultResolverSync %v: docs/PERFORMANCE.md and server/config.go say 10m", DefaultResolverSync)
	}
	_, err := NewNode(NodeOptions{Name: "n1", StoreDir: t.TempDir(), Standalone: true, Port: RandomPort, Auth: a.ServerAuth(nil), ResolverSync: -time.Second}, zaptest.NewLogger(t))
	if err == nil {
		t.Fatal("a negative resolver_sync was accepted")
	}
}

// memberJWTs signs n members' account JWTs (two sectors each, as the
// account JWT size test), without TOCSIN's.
func memberJWTs(t testing.TB, a *auth.Authority, n int) []string {
	t.Helper()
	var reg []*tocsinv1.Member
	for i := range n {
		reg = append(reg, &tocsinv1.Member{Id: fmt.Sprintf("m-%05d", i), Sectors: []string{"patient-care", "health-it"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}})
	}
	jwts, err := a.AccountJWTs(reg)
	if err != nil {
		t.Fatal(err)
	}
	return jwts[1:]
}

// holds reports how many of accounts node n's resolver holds on its disk
// (no lookup of other nodes).
func holds(n *Node, accounts []string) int {
	res := n.Server().AccountResolver().(*server.DirAccResolver)
	count := 0
	for _, acc := range accounts {
		if j, err := res.LoadAcc(acc); err == nil && j != "" {
			count++
		}
	}
	return count
}

// routeBytes is what node n has sent on all of its routes.
func routeBytes(t testing.TB, n *Node) int64 {
	rz, err := n.Server().Routez(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out int64
	for _, r := range rz.Routes {
		out += r.OutBytes
	}
	return out
}

// behind is a 3-node operator-mode cluster (routes in mutual TLS) of which
// node 1 alone holds n members' account JWTs at start, every node's
// resolver syncing every every, and an R3 stream PROBE in TOCSIN.
type behind struct {
	c        *Cluster
	accounts []string
	size     int
	js       jetstream.JetStream
	logs     *observer.ObservedLogs
}

func startBehind(ctx context.Context, t *testing.T, n int, every time.Duration) *behind {
	t.Helper()
	a := testAuthority(t)
	b := &behind{}
	jwts := memberJWTs(t, a, n)
	for _, j := range jwts {
		ac, err := jwt.DecodeAccountClaims(j)
		if err != nil {
			t.Fatal(err)
		}
		b.accounts = append(b.accounts, ac.Subject)
		b.size += len(j)
	}
	files := testTLS(t)
	core, logs := observer.New(zap.InfoLevel)
	b.logs = logs
	c, err := StartCluster(ctx, ClusterOptions{DataDir: t.TempDir(), BasePort: RandomPort, Configure: func(i int, o *NodeOptions) {
		if i == 0 {
			o.Auth = a.ServerAuth(append(a.InitialAccountJWTs(), jwts...))
		} else {
			o.Auth = a.ServerAuth(nil)
		}
		o.ClusterTLS = files
		o.ResolverSync = every
	}}, zap.New(zapcore.NewTee(core, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core())))
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	b.c = c
	creds, err := a.IssueService("probe")
	if err != nil {
		t.Fatal(err)
	}
	nc, js := connectAs(t, c.ClientURL(), creds)
	t.Cleanup(nc.Close)
	b.js = js
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStreams(ctx, a.Account(), []string{"PROBE"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// probe writes to PROBE every 50 ms, each write waited for (30 s at
// most, whatever ctx), until ctx ends; it then returns the slowest write
// and the writes that failed.
func (b *behind) probe(ctx context.Context) <-chan probed {
	out := make(chan probed, 1)
	go func() {
		var slowest time.Duration
		var failed []string
		for ctx.Err() == nil {
			w := time.Now()
			pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := b.js.Publish(pctx, "probe", []byte("x"))
			cancel()
			if err != nil {
				failed = append(failed, fmt.Sprintf("after %v: %v", time.Since(w).Round(time.Millisecond), err))
			}
			slowest = max(slowest, time.Since(w))
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		out <- probed{slowest, failed}
	}()
	return out
}

// probed is what a probe saw: its slowest write, and the writes that
// failed.
type probed struct {
	slowest time.Duration
	failed  []string
}

// report logs what the sync cost since start: node 1's route bytes since
// sent, nats-server's slow-pack warnings, the slowest probe write, the
// no-quorum warnings (returned) and the meta leader's changes since
// metaBefore.
func (b *behind) report(t *testing.T, what string, start time.Time, sent int64, metaBefore int, p probed) []observer.LoggedEntry {
	t.Helper()
	noQuorum := b.logs.FilterMessageSnippet("NO quorum").All()
	t.Logf("%s: %d member accounts (%d KiB of JWTs), %v: node 1 sent %d KiB on its routes; %d slow pack answers; slowest probe write %v, %d failed; %d no-quorum warnings; %d meta leader changes",
		what, len(b.accounts), b.size>>10, time.Since(start).Round(time.Millisecond), (routeBytes(t, b.c.Node(0))-sent)>>10,
		len(b.logs.FilterMessageSnippet("CLAIMS.PACK").All()), p.slowest.Round(time.Millisecond), len(p.failed),
		len(noQuorum), b.metaChanges()-metaBefore)
	return noQuorum
}

func (b *behind) metaChanges() int {
	return len(b.logs.FilterMessageSnippet("new metadata leader").All())
}

// envInt is the integer in environment variable name, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// TestResolverSyncBringsABehindNodeUpToDate: the node option reaches the
// resolver, and its sync is what brings a node that missed pushes up to
// date: node 1 alone holds the members' accounts at start, and with a
// resolver_sync of 2 s (10 ms per member, at least 1 s: long enough that
// a pack is answered before its node asks again) the others get them all.
// With the 10-minute default they would not within the bound.
// TOCSIN_RSYNC_N members (default 200) measure a pack's cost (logged).
func TestResolverSyncBringsABehindNodeUpToDate(t *testing.T) {
	n := envInt(t, "TOCSIN_RSYNC_N", 200)
	every := max(time.Second, time.Duration(n)*10*time.Millisecond)
	bound := 2*every + 60*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), bound+90*time.Second)
	defer cancel()
	b := startBehind(ctx, t, n, every)
	start, sent, meta := time.Now(), routeBytes(t, b.c.Node(0)), b.metaChanges()
	probeCtx, stop := context.WithCancel(ctx)
	result := b.probe(probeCtx)
	testwait.For(t, bound, "every node holding every member's account", func() error {
		for _, nd := range b.c.Nodes() {
			if got := holds(nd, b.accounts); got < len(b.accounts) {
				return fmt.Errorf("node %s holds %d of %d accounts", nd.Name(), got, len(b.accounts))
			}
		}
		return nil
	})
	stop()
	b.report(t, "on every node", start, sent, meta, <-result)
}

// TestResolverSyncStormKeepsTheStreamsQuorum: nodes whose account JWTs
// differ answer each other's sync with a pack of every JWT, inline on the
// system account's route, for seconds at a thousand accounts. With a sync
// every second (nats-server's default is a minute, Tocsin's ten) the
// packs overlap without end, as when admission pushes thousands of
// accounts. An R3 stream of TOCSIN keeps its quorum and every write
// throughout, because its raft traffic has a route connection apart from
// the system account's (routePoolSize, cluster_traffic owner). On the system route (without
// them) a write waited 30 s, the stream lost its quorum and the meta
// layer its leader. TOCSIN_RSYNC_N members (default 1500), for 30 s.
func TestResolverSyncStormKeepsTheStreamsQuorum(t *testing.T) {
	n := envInt(t, "TOCSIN_RSYNC_N", 1500)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	b := startBehind(ctx, t, n, time.Second)
	start, sent, meta := time.Now(), routeBytes(t, b.c.Node(0)), b.metaChanges()
	probeCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	result := <-b.probe(probeCtx)
	if packs := len(b.logs.FilterMessageSnippet("CLAIMS.PACK").All()); packs == 0 {
		t.Logf("no pack took long enough for nats-server to warn: the storm was lighter than it is meant to be")
	}
	for _, e := range b.report(t, "sync storm", start, sent, meta, result) {
		t.Errorf("a raft group lost its quorum: %s", e.Message)
	}
	for _, f := range result.failed {
		t.Errorf("a probe write failed: %s", f)
	}
}

// connectAs connects to url with creds.
func connectAs(t *testing.T, url string, creds []byte) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opt, err := auth.CredsOption(creds)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opt, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// TestRoutePoolSizeKeepsStreamsOffTheSystemConnection: whatever keys tocsin
// init drew, TOCSIN's traffic takes another pooled route connection than
// the system account's, with nats-server's default of 3 when it already
// does, and the node's server options carry that size.
func TestRoutePoolSizeKeepsStreamsOffTheSystemConnection(t *testing.T) {
	grew := 0
	for range 12 {
		a := testAuthority(t)
		sa := a.ServerAuth(nil)
		size := routePoolSize(sa)
		if poolIndex(size, a.SystemAccount()) == poolIndex(size, a.Account()) {
			t.Fatalf("pool size %d: TOCSIN and the system account share connection %d", size, poolIndex(size, a.Account()))
		}
		if apart := poolIndex(defaultRoutePoolSize, a.SystemAccount()) != poolIndex(defaultRoutePoolSize, a.Account()); apart != (size == defaultRoutePoolSize) {
			t.Fatalf("pool size %d, though at the default of %d they are apart: %v", size, defaultRoutePoolSize, apart)
		}
		if size != defaultRoutePoolSize {
			grew++
		}
		so, err := NodeOptions{Name: "n1", StoreDir: t.TempDir(), Routes: []string{"nats-route://127.0.0.1:6223"}, Auth: sa}.withDefaults().serverOptions()
		if err != nil {
			t.Fatal(err)
		}
		so.AccountResolver.Close()
		if so.Cluster.PoolSize != size {
			t.Fatalf("server options pool size %d, want %d", so.Cluster.PoolSize, size)
		}
	}
	t.Logf("%d of 12 authorities needed a pool of more than %d connections", grew, defaultRoutePoolSize)
	// Without JetStream accounts among the preloads: the default.
	if size := routePoolSize(&auth.ServerAuth{}); size != defaultRoutePoolSize {
		t.Fatalf("no operator: pool size %d", size)
	}
}
