package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/subjects"
)

// Node processes route only through the proxies: isolating one node makes
// every node's /status say so, the INGEST leader is on the majority side
// or moves there, and healing brings back a cluster that is ready and not
// degraded.
func TestIsolateConfirmedByTheNodesAndHealed(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	c := startCluster(t, ctx, "always")
	for _, p := range c.proxies() {
		if acc, _ := p.Stats(); acc == 0 && p.Name()[:len("advertised")] != "advertised" {
			t.Errorf("proxy %s never carried a route: the nodes dial around it", p.Name())
		}
	}
	victim := c.nodes[1]
	c.Isolate(victim)
	how, err := c.ConfirmIsolated(testContext(t, 60*time.Second), victim)
	if err != nil {
		t.Fatalf("isolation of %s never confirmed: %v", victim.name, err)
	}
	t.Logf("confirmed: %s", how)
	leader, err := c.streamLeader(ctx, subjects.StreamIngest)
	if err != nil {
		t.Logf("INGEST leader while cut: %v", err)
	} else {
		t.Logf("INGEST leader while %s is cut off: %s", victim.name, leader.name)
	}
	c.HealNetwork()
	if err := c.WaitHealthy(testContext(t, 60*time.Second)); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

// A node of a real cluster never gives up on its peers (ARCHITECTURE.md):
// a node that has just become ready and then loses its quorum for a few
// seconds (both peers paused) keeps running and is ready again once they
// resume. It fails today: the node's router and mutual-aid service create
// their INGEST consumers after readiness, in goroutines whose error ends
// the node, and a JetStream call without a quorum times out after 5s
// ("router: alerts: router consumer: context deadline exceeded"; the
// chaos run saw it in rolling restarts). Fix: the services of a real
// cluster's node retry transient JetStream errors (timeouts, no
// responders, "JetStream system temporarily unavailable") for as long as
// the node runs; only a dev cluster gives up.
func TestNodeOutlivesQuorumLossRightAfterStart(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	c := startCluster(t, ctx, "always")
	a, peers := c.nodes[0], c.nodes[1:]
	// Slow routes widen the moment between readiness and the services'
	// consumers, which a loaded cluster also widens.
	c.SetLatency(50 * time.Millisecond)
	if err := a.proc.Stop(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.proc.Start(); err != nil {
		t.Fatal(err)
	}
	// The node prints "ready in" the moment it is ready; /readyz would
	// answer later (it asks every stream's leader).
	starts := strings.Count(readLog(a.proc.log), "=== ")
	if err := poll(testContext(t, time.Minute), 5*time.Millisecond, func() error {
		log := readLog(a.proc.log)
		if i := nthIndex(log, "=== ", starts); i >= 0 && strings.Contains(log[i:], "ready in") {
			return nil
		}
		return fmt.Errorf("not ready yet")
	}); err != nil {
		t.Fatalf("%s never ready after its restart: %v", a.name, err)
	}
	for _, p := range peers {
		if err := p.proc.Pause(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(12 * time.Second)
	for _, p := range peers {
		if err := p.proc.Resume(); err != nil {
			t.Fatal(err)
		}
	}
	c.SetLatency(0)
	err := poll(testContext(t, 90*time.Second), time.Second, func() error {
		if len(c.Crashes()) > 0 {
			return nil
		}
		return c.WaitHealthy(testContext(t, time.Second))
	})
	if crashes := c.Crashes(); len(crashes) > 0 {
		t.Fatalf("a node exited on its own:\n%s", strings.Join(crashes, "\n"))
	}
	if err != nil {
		t.Fatalf("after the peers resumed: %v", err)
	}
}

// A node restarted while its routes are slow (100ms each way, 200ms round
// trips: a cluster across a continent) becomes ready. It never does today:
// a node that is not the meta leader checks that every stream is
// provisioned (broker.CheckProvisioned: one stream info per stream, one
// after another) under a single 2s timeout (server.start), and fourteen
// round trips of 200ms do not fit, so every retry fails the same way
// ("waiting for the meta leader to provision streams: stream ...: context
// deadline exceeded"). Fix: a timeout per stream info (or the infos in
// parallel), and streams already confirmed not asked again.
func TestNodeStartsOverSlowRoutes(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	c := startCluster(t, ctx, "always")
	c.SetLatency(100 * time.Millisecond)
	n := c.nodes[0]
	if err := n.proc.Stop(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.proc.Start(); err != nil {
		t.Fatal(err)
	}
	err := poll(testContext(t, 90*time.Second), time.Second, func() error {
		if ok, why := c.ready(ctx, n); !ok {
			return fmt.Errorf("%s", why)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s, restarted with 100ms route latency, not ready in 90s: %v", n.name, err)
	}
}

// nthIndex is the index of the n-th (from 1) occurrence of sub in s, -1
// when there are fewer.
func nthIndex(s, sub string, n int) int {
	at := -1
	for range n {
		i := strings.Index(s[at+1:], sub)
		if i < 0 {
			return -1
		}
		at += 1 + i
	}
	return at
}
