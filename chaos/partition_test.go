package chaos

import (
	"testing"
	"time"
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
	leader, err := c.ingestLeader(ctx)
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
