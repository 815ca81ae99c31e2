package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// TestClusterStartsAndStopsWithoutErrorsOrWarnings: the nodes of a cluster
// started one after the other dial peers that do not listen yet and wait
// for the meta leader, and while it stops they take their last snapshots
// and lose each other; nats-server logs that as errors and warnings, which
// a forming or stopping node logs at info level: a normal start and stop
// log nothing at warn level or above.
func TestClusterStartsAndStopsWithoutErrorsOrWarnings(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, ClusterOptions{DataDir: t.TempDir(), BasePort: RandomPort}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	testwait.For(t, 60*time.Second, "every node to form", testwait.True(func() bool {
		for _, n := range c.Nodes() {
			if !n.formed.Load() {
				return false
			}
		}
		return true
	}))
	if err := Provision(ctx, connectJS(t, c.ClientURL()), c.Replicas()); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStreams(ctx, "$G", StreamNames()); err != nil {
		t.Fatal(err)
	}
	started := logs.Len()
	c.Shutdown()
	// A warning of the start about the nodes meeting, or any of the stop, is
	// wrong; another of the start is what a loaded machine may earn (a raft
	// group falling behind).
	for i, e := range logs.All() {
		switch {
		case e.Level != zapcore.WarnLevel:
		case i >= started || strings.Contains(e.Message, "rout") || strings.Contains(e.Message, "meta leader"):
			t.Errorf("a normal start and stop warned: %s", e.Message)
		default:
			t.Logf("warned (a loaded machine?): %s", e.Message)
		}
	}
	for _, e := range logs.FilterLevelExact(zapcore.ErrorLevel).All() {
		t.Errorf("a normal start and stop logged an error: %s", e.Message)
	}
	if n := logs.FilterMessage("node formed: a route to every peer, jetstream current").Len(); n != 3 {
		t.Errorf("%d nodes said they formed, want 3", n)
	}
	t.Logf("formation messages logged at info: %d, stopping ones: %d", logs.FilterField(zap.Bool("forming", true)).Len(), logs.FilterField(zap.Bool("stopping", true)).Len())
}

// TestNodeMissingAPeerWarnsAfterTheGrace: a node whose peer never comes
// logs its route dial errors at info level during the grace, then warns
// once, naming how many peers it reaches; from then on the same messages
// are errors again.
func TestNodeMissingAPeerWarnsAfterTheGrace(t *testing.T) {
	ports, err := freeport.Pick("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	n, err := NewNode(NodeOptions{Name: "alone", ClusterName: DefaultClusterName, StoreDir: t.TempDir(), Port: RandomPort, ClusterPort: RandomPort,
		Routes: []string{fmt.Sprintf("nats-route://127.0.0.1:%d", ports[0])}, FormationGrace: 2 * time.Second}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Shutdown)
	const warned = `node "alone" has routes to 0 of its 1 peers after 2s`
	testwait.For(t, 30*time.Second, "the warning after the grace", testwait.True(func() bool {
		return logs.FilterMessageSnippet(warned).Len() == 1
	}))
	dials := logs.FilterMessageSnippet("Error trying to connect to route")
	if dials.Len() == 0 {
		t.Fatal("no route dial error was logged")
	}
	for _, e := range dials.All() {
		if e.Level != zapcore.InfoLevel {
			t.Fatalf("a route dial error during the grace was logged at %s", e.Level)
		}
	}
	if w := logs.FilterMessageSnippet(warned).All()[0]; w.Level != zapcore.WarnLevel {
		t.Fatalf("the end of the grace was logged at %s", w.Level)
	}
	// Past the grace, nats-server's next report is an error again.
	n.srv.Errorf("Error trying to connect to route (attempt %d): %v", 3600, "connection refused")
	if last := logs.FilterMessageSnippet("(attempt 3600)").All(); len(last) != 1 || last[0].Level != zapcore.ErrorLevel {
		t.Fatalf("a route dial error after the grace: %+v", last)
	}
}
