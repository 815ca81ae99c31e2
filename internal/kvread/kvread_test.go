package kvread_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/internal/kvread"
)

func startJetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
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
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestLatestPagesThroughTheBucketWithoutAConsumer: 600 keys written twice
// (more than two pages), some deleted: Latest gives each live key once
// with its last value, and no consumer was created.
func TestLatestPagesThroughTheBucketWithoutAConsumer(t *testing.T) {
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B", History: 4})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for i := range 600 {
			if _, err := kv.Put(ctx, fmt.Sprintf("k%03d", i), fmt.Appendf(nil, "v%d-%d", i, round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 10 {
		if err := kv.Delete(ctx, fmt.Sprintf("k%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := kvread.Latest(ctx, js.Conn(), "$JS.API.", "B", ">")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 590 {
		t.Fatalf("%d live keys, want 590", len(got))
	}
	for _, e := range got {
		var i int
		fmt.Sscanf(e.Key, "k%03d", &i)
		if want := fmt.Sprintf("v%d-1", i); string(e.Value) != want || i < 10 {
			t.Fatalf("%s = %q, want %q (deleted keys left out)", e.Key, e.Value, want)
		}
	}
	one, err := kvread.Latest(ctx, js.Conn(), "$JS.API.", "B", "k599")
	if err != nil || len(one) != 1 || string(one[0].Value) != "v599-1" {
		t.Fatalf("filtered: %v %v", one, err)
	}
	none, err := kvread.Latest(ctx, js.Conn(), "$JS.API.", "B", "nothing.here")
	if err != nil || len(none) != 0 {
		t.Fatalf("no match: %v %v", none, err)
	}
	st, err := js.Stream(ctx, "KV_B")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Consumers != 0 {
		t.Fatalf("consumers %v %v, want none", info, err)
	}
	// The leader read: a value, its revision; deleted and absent keys give ok false.
	data, rev, ok, err := kvread.Leader(ctx, js, "B", "k100")
	if err != nil || !ok || string(data) != "v100-1" || rev == 0 {
		t.Fatalf("leader read: %q %d %v %v", data, rev, ok, err)
	}
	for _, k := range []string{"k005", "never"} {
		if _, _, ok, err := kvread.Leader(ctx, js, "B", k); ok || err != nil {
			t.Fatalf("leader read of %s: ok %v %v, want absent", k, ok, err)
		}
	}
}
