package members

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"go.uber.org/zap/zaptest"
)

// startTestCluster starts a provisioned 3-node cluster on random loopback
// ports and stops it when the test ends.
func startTestCluster(t *testing.T) *broker.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{DataDir: t.TempDir(), BasePort: broker.RandomPort}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	// Right after the meta leader is elected it may not yet count every
	// peer as online ("no suitable peers for placement"): retry until the
	// deadline.
	js := connectJS(t, c.ClientURL())
	testwait.Until(ctx, t, "provision", func() error { return broker.Provision(ctx, js, c.Replicas()) })
	if err := c.WaitStreams(ctx, "$G", broker.StreamNames()); err != nil {
		t.Fatalf("streams: %v", err)
	}
	return c
}

// connectJS connects to url and returns its JetStream context.
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

// openRegistry opens a Registry over js, closed when the test ends.
func openRegistry(ctx context.Context, t *testing.T, js jetstream.JetStream) *Registry {
	t.Helper()
	r, err := Open(ctx, js, DefaultVocabulary(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("open registry: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// cachedMember returns the cache's copy of id, or an error saying what it holds.
func (r *Registry) cachedMember(id string) (cached, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.cache[id]
	if !ok {
		return cached{}, fmt.Errorf("member %q not in the cache (%d records)", id, len(r.cache))
	}
	return c, nil
}
