package agent

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestConsumerNodeDies stops the node that holds the agent's R1 sector
// consumer while alerts keep coming: the agent has the consumer created
// again from its position on a live node and loses nothing; when the node
// comes back nothing is delivered twice.
func TestConsumerNodeDies(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	status := &syncBuffer{}
	opts := w.agentOptions("hilltop", filepath.Join(dir, "state"), j)
	opts.Status = status
	a, _ := w.start(opts)
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	count := func() int { return len(jsonlRecords(t, filepath.Join(dir, "alerts.jsonl"))) }
	alerts := func(n int, title string) []proto.Message {
		var ps []proto.Message
		for range n {
			ps = append(ps, alert(title, "patient-care"))
		}
		return ps
	}
	envs := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alerts(200, "before")...)
	testwait.For(t, 60*time.Second, "200 alerts", testwait.True(func() bool { return count() >= 200 }))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := w.JS.Consumer(ctx, "SECTORS", "hilltop-sectors")
	if err != nil {
		t.Fatal(err)
	}
	info := cons.CachedInfo()
	if info.Config.Replicas != 1 || info.Cluster == nil {
		t.Fatalf("consumer replicas %d, cluster %+v: want an R1 consumer", info.Config.Replicas, info.Cluster)
	}
	victim := -1
	for i, n := range w.C.Nodes() {
		if n.Name() == info.Cluster.Leader {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("the consumer's node %q is not in the cluster", info.Cluster.Leader)
	}
	t.Logf("stopping %s, which holds hilltop-sectors", info.Cluster.Leader)
	w.StopServices(victim)
	w.C.StopNode(victim)
	during := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alerts(300, "during")...)
	envs = append(envs, during...)
	w.Routed("st-mary", envs)
	testwait.For(t, 90*time.Second, "500 alerts", testwait.True(func() bool { return count() >= 500 }))
	if !strings.Contains(status.String(), "re-created from stream sequence") {
		t.Errorf("no status line about the consumer's re-creation:\n%s", status)
	}

	if err := w.C.RestartNode(victim); err != nil {
		t.Fatal(err)
	}
	after := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alerts(50, "after")...)
	envs = append(envs, after...)
	w.Routed("st-mary", envs)
	testwait.For(t, 60*time.Second, "550 alerts", testwait.True(func() bool { return count() >= 550 }))
	time.Sleep(2 * time.Second)
	seen := map[string]int{}
	for _, r := range jsonlRecords(t, filepath.Join(dir, "alerts.jsonl")) {
		seen[r.ID]++
	}
	for i, e := range envs {
		if seen[e.GetId()] != 1 {
			t.Errorf("alert %d (%s) written %d times", i, e.GetId(), seen[e.GetId()])
		}
	}
	if len(seen) != len(envs) {
		t.Errorf("%d alerts written, want %d", len(seen), len(envs))
	}
}
