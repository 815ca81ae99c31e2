package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/records"
)

// The streams an alert is written to, in the order of each pipeline.
var (
	tocsinHot  = []string{"INGEST", "KV_" + records.BucketRouted, "SECTORS"}
	rawHot     = []string{"RAW_IN", "KV_RAW_" + records.BucketRouted, "RAW_OUT"}
	rawFiveHot = []string{"RAW5_IN", "KV_RAW5_" + records.BucketDedupe, "RAW5_OUT", "KV_RAW5_" + records.BucketSightings, "KV_RAW5_" + records.BucketRouted}
)

// placeLeaders moves the leader of streams[i] to node i mod N, so that
// both pipelines of a comparison write through the same placement: which
// node happens to lead which stream otherwise decides the ratio as much
// as the code does (three busy leaders on one node halve its throughput).
func placeLeaders(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, c *broker.Cluster, streams []string) error {
	nodes := c.Nodes()
	if len(nodes) < 2 {
		return nil
	}
	for i, name := range streams {
		want := nodes[i%len(nodes)].Name()
		if err := moveLeader(ctx, nc, js, name, want); err != nil {
			return err
		}
	}
	return nil
}

// moveLeader asks stream name's leader to step down in favour of want,
// and waits until want leads it.
func moveLeader(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, name, want string) error {
	return moveRaftLeader(ctx, nc, "stream "+name, "$JS.API.STREAM.LEADER.STEPDOWN."+name, want, func() (*jetstream.ClusterInfo, error) {
		sctx, cancel := bounded(ctx)
		defer cancel()
		s, err := js.Stream(sctx, name)
		if err != nil {
			return nil, err
		}
		return s.CachedInfo().Cluster, nil
	})
}

// moveConsumerLeader moves the leader of stream's durable consumer to
// want. The consumer leader hands out every message of the pipeline, so
// its node carries the pull requests and deliveries: both sides of a
// comparison place it on the same node.
func moveConsumerLeader(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, stream, consumer, want string) error {
	return moveRaftLeader(ctx, nc, "consumer "+stream+" > "+consumer, "$JS.API.CONSUMER.LEADER.STEPDOWN."+stream+"."+consumer, want,
		func() (*jetstream.ClusterInfo, error) {
			cctx, cancel := bounded(ctx)
			defer cancel()
			c, err := js.Consumer(cctx, stream, consumer)
			if err != nil {
				return nil, err
			}
			return c.CachedInfo().Cluster, nil
		})
}

// moveRaftLeader asks the leader behind the stepdown subject to step down
// in favour of want, and waits until info says want leads.
func moveRaftLeader(ctx context.Context, nc *nats.Conn, what, stepdown, want string, info func() (*jetstream.ClusterInfo, error)) error {
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": want}})
	deadline := time.Now().Add(30 * time.Second)
	for asked := false; ; {
		ci, err := info()
		if err == nil && ci != nil && ci.Leader == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: leader never moved to %s: %v", what, want, err)
		}
		if err == nil && !asked {
			rctx, cancel := bounded(ctx)
			_, err := nc.RequestWithContext(rctx, stepdown, req)
			cancel()
			if err == nil {
				asked = true
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if asked && time.Now().Add(20*time.Second).After(deadline) {
			asked = false // ask again: the election may have picked another node
		}
	}
}
