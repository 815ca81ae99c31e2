package inprogress_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/internal/inprogress"
)

// TestKeepHoldsTheMessageUntilReleased: a message kept in progress is not
// redelivered past its AckWait; once released (and not acknowledged) it is.
func TestKeepHoldsTheMessageUntilReleased(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	const ackWait = 400 * time.Millisecond
	cons, err := js.CreateConsumer(ctx, "S", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fetch := func(wait time.Duration) []jetstream.Msg {
		t.Helper()
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(wait))
		if err != nil {
			t.Fatal(err)
		}
		var got []jetstream.Msg
		for m := range b.Messages() {
			got = append(got, m)
		}
		return got
	}
	first := fetch(5 * time.Second)
	if len(first) != 1 {
		t.Fatalf("first fetch got %d messages, want 1", len(first))
	}
	release := inprogress.Keep(ackWait/4, first...)
	if again := fetch(4 * ackWait); len(again) != 0 {
		t.Fatalf("the kept message was redelivered %s after its delivery (AckWait %s)", 4*ackWait, ackWait)
	}
	release()
	release() // twice is fine
	again := fetch(5 * time.Second)
	if len(again) != 1 {
		t.Fatal("the released message was not redelivered after its AckWait")
	}
	if meta, _ := again[0].Metadata(); meta.NumDelivered != 2 {
		t.Fatalf("redelivery number %d, want 2", meta.NumDelivered)
	}
}
