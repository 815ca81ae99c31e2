package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/subjects"
)

// startTestCluster starts a 3-node cluster on random loopback ports,
// provisions it and stops it when the test ends.
func startTestCluster(t *testing.T) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, ClusterOptions{DataDir: t.TempDir(), BasePort: RandomPort}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	js := connectJS(t, c.ClientURL())
	if err := Provision(ctx, js, c.Replicas()); err != nil {
		t.Fatalf("provision: %v", err)
	}
	if err := c.WaitStreams(ctx, "$G", StreamNames()); err != nil {
		t.Fatalf("streams: %v", err)
	}
	return c
}

func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestClusterStreamsHaveThreeReplicasAndPublishIsAcked(t *testing.T) {
	c := startTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := connectJS(t, c.ClientURL())
	for _, name := range StreamNames() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s info: %v", name, err)
		}
		if info.Config.Replicas != 3 {
			t.Errorf("stream %s: %d replicas, want 3", name, info.Config.Replicas)
		}
		if info.Cluster == nil || len(info.Cluster.Replicas) != 2 || info.Cluster.Leader == "" {
			t.Errorf("stream %s: cluster info %+v, want a leader and 2 followers", name, info.Cluster)
		}
	}
	ack, err := js.Publish(ctx, subjects.Ingest(subjects.KindAlert, "st-mary"), []byte("x"), jetstream.WithMsgID("m1"))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ack.Stream != subjects.StreamIngest || ack.Sequence != 1 {
		t.Fatalf("pub ack %+v, want INGEST seq 1", ack)
	}
	// Provisioning again changes nothing.
	if err := Provision(ctx, js, 3); err != nil {
		t.Fatalf("second provision: %v", err)
	}
}

func TestClusterSurvivesOneNodeDownAndCatchesUp(t *testing.T) {
	c := startTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := connectJS(t, c.ClientURL())
	subject := subjects.Ingest(subjects.KindAlert, "st-mary")
	publish := func(from, to int) {
		t.Helper()
		// As a member's client does: each attempt waits a few seconds and
		// is retried with the same message id (a PubAck can be lost while
		// the client reconnects and its reply subject reaches the stream
		// leader's node); the stream drops the duplicates.
		for i := from; i < to; i++ {
			for {
				actx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := js.Publish(actx, subject, []byte(fmt.Sprint(i)), jetstream.WithMsgID(fmt.Sprint("m", i)))
				cancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
			}
		}
	}
	publish(0, 50)
	// Stop the stream leader: the worst node to lose.
	victim := -1
	for i, n := range c.Nodes() {
		if n.Server().JetStreamIsStreamLeader("$G", subjects.StreamIngest) {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatal("no INGEST leader found")
	}
	c.StopNode(victim)
	publish(50, 100)
	s, err := js.Stream(ctx, subjects.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 100 {
		t.Fatalf("with a node down: info %v err %v, want 100 messages", info, err)
	}
	if err := c.RestartNode(victim); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := c.WaitStreams(ctx, "$G", []string{subjects.StreamIngest}); err != nil {
		t.Fatalf("catch up: %v", err)
	}
	// The restarted node holds all 100 messages on its own.
	restarted := c.Node(victim).Server()
	err = poll(ctx, func() error {
		acc, err := restarted.LookupAccount("$G")
		if err != nil {
			return err
		}
		info, err := restarted.Jsz(nil)
		if err != nil {
			return err
		}
		_ = acc
		if info.Messages < 100 {
			return fmt.Errorf("restarted node holds %d messages", info.Messages)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
