package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// probeStream is the R3 stream the failover writes to, in the TOCSIN
// account; its leader is moved to the meta leader before the kill.
const probeStream, probeSubject = "SCALE_PROBE", "scale.probe"

// failover kills the node that leads the meta group (and the probe
// stream) with SIGKILL, times until a write to the probe stream is
// acknowledged again and until a consumer can be created again, then
// starts the node on its data and times until every node is ready.
func failover(ctx context.Context, c *cluster, sys, svc *nats.Conn, js jetstream.JetStream, p *Point, log *zap.Logger) error {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: probeStream, Subjects: []string{probeSubject}, Replicas: 3,
		Storage: jetstream.FileStorage}); err != nil {
		return fmt.Errorf("%w: the probe stream: %v", ErrCluster, err)
	}
	leader, err := metaLeader(ctx, sys, len(c.nodes))
	if err != nil {
		return err
	}
	if err := leadOn(ctx, svc, js, leader); err != nil {
		log.Warn("the probe stream's leader stayed where it was", zap.String("meta_leader", leader), zap.Error(err))
	}
	var victim *node
	for _, n := range c.nodes {
		if n.name == leader {
			victim = n
		}
	}
	if victim == nil {
		return fmt.Errorf("%w: the meta leader %q is not a node of this cluster", ErrCluster, leader)
	}
	if _, err := js.Publish(ctx, probeSubject, []byte("before")); err != nil {
		return fmt.Errorf("%w: a write before the kill: %v", ErrCluster, err)
	}
	killed := time.Now()
	victim.kill()
	var wg sync.WaitGroup
	var werr, merr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		werr = until(ctx, 3*time.Minute, func(ctx context.Context) error {
			_, err := js.Publish(ctx, probeSubject, []byte("after"))
			return err
		})
		p.FailoverWrite = time.Since(killed)
	}()
	go func() {
		defer wg.Done()
		i := 0
		merr = until(ctx, 3*time.Minute, func(ctx context.Context) error {
			i++
			_, err := js.CreateConsumer(ctx, probeStream, jetstream.ConsumerConfig{Durable: fmt.Sprint("probe-", i), Replicas: 1})
			return err
		})
		p.FailoverMeta = time.Since(killed)
	}()
	wg.Wait()
	if werr != nil {
		return fmt.Errorf("%w: no write acknowledged after the meta leader's kill: %v", ErrCluster, werr)
	}
	if merr != nil {
		return fmt.Errorf("%w: no consumer created after the meta leader's kill: %v", ErrCluster, merr)
	}
	start := time.Now()
	if err := victim.start(c.bin); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := c.waitReady(rctx); err != nil {
		return err
	}
	p.Startup = time.Since(start)
	return nil
}

// until calls f, each call bounded by a second, until it succeeds or
// within passes.
func until(ctx context.Context, within time.Duration, f func(context.Context) error) error {
	deadline := time.Now().Add(within)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := f(cctx)
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// leadOn asks the probe stream's leader to step down in favour of node
// name, until name leads it (at most 5 tries).
func leadOn(ctx context.Context, svc *nats.Conn, js jetstream.JetStream, name string) error {
	body, _ := json.Marshal(map[string]any{"placement": map[string]any{"preferred": name}})
	var last error
	for range 5 {
		s, err := js.Stream(ctx, probeStream)
		if err == nil && s.CachedInfo().Cluster != nil && s.CachedInfo().Cluster.Leader == name {
			return nil
		}
		if _, err := svc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+probeStream, body); err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("%s does not lead %s after 5 step-downs (%v)", name, probeStream, last)
}
