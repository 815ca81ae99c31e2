// Package testcluster starts real, provisioned in-process Tocsin clusters
// for tests: 3 embedded nats-server nodes on random loopback ports, every
// stream and bucket created and current.
package testcluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// Start starts a provisioned 3-node cluster that stops when the test ends.
// Provisioning is retried: right after start a peer may not yet be
// placeable ("no suitable peers").
func Start(t testing.TB) *broker.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{DataDir: t.TempDir(), BasePort: broker.RandomPort}, zaptest.NewLogger(t).Named("nats"))
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	js := JetStream(t, c.ClientURL())
	testwait.Until(ctx, t, "provision", func() error {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		return broker.Provision(actx, js, c.Replicas())
	})
	if err := c.WaitStreams(ctx, "$G", broker.StreamNames()); err != nil {
		t.Fatalf("streams: %v", err)
	}
	return c
}

// Connect opens a connection that reconnects across node loss and closes
// when the test ends.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream connects and returns a JetStream context.
func JetStream(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	js, err := jsctx.JetStream(Connect(t, url, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// DropBucket deletes a key-value bucket, so that everything that reads or
// writes it fails as in an outage of it, and returns the function that
// creates it again, empty, with the same configuration.
func DropBucket(t testing.TB, js jetstream.JetStream, bucket string) (restore func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	status, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := status.(*jetstream.KeyValueBucketStatus).Config()
	if err := js.DeleteKeyValue(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := js.CreateKeyValue(ctx, cfg); err != nil {
			t.Fatalf("create bucket %s again: %v", bucket, err)
		}
	}
}
