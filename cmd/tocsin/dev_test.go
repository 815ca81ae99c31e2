package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/subjects"
)

// devArgs are the arguments of a `tocsin dev` on free ports.
func devArgs(t *testing.T, data string) (args []string, url string) {
	ports := freePorts(t, 1)
	base := 20000 + ports[0]%20000 // a base with room for +2 (client) and +2000+2 (routes)
	free := freePorts(t, 1)
	return []string{"dev", "--data", data, "--port", fmt.Sprint(base), "--http", fmt.Sprintf("127.0.0.1:%d", free[0]), "--log-level", "warn"},
		fmt.Sprintf("nats://127.0.0.1:%d,nats://127.0.0.1:%d", base, base+1)
}

// `tocsin dev` stopped with SIGTERM and started again on the same data dir
// keeps every acknowledged message.
func TestDevRestartKeepsEveryMessage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	args, url := devArgs(t, data)
	dev := start(t, args...)
	dev.waitFor(t, "ready in", 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	const n = 200
	for i := range n {
		if _, err := js.Publish(ctx, subjects.Ingest(subjects.KindAlert, "st-mary"), []byte(fmt.Sprint("alert-", i)), jetstream.WithMsgID(fmt.Sprint("id-", i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	nc.Close()
	dev.stop(t)
	if out := dev.Output(); !strings.Contains(out, "stopped") {
		t.Fatalf("no clean stop line in output:\n%s", out)
	}

	dev2 := start(t, args...)
	dev2.waitFor(t, "ready in", 60*time.Second)
	nc, err = nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	s, err := js.Stream(ctx, subjects.StreamIngest)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m, err := s.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatalf("message %d after restart: %v", i+1, err)
		}
		if want := fmt.Sprint("alert-", i); string(m.Data) != want {
			t.Fatalf("message %d: %q, want %q", i+1, m.Data, want)
		}
	}
	if info, _ := s.Info(ctx); info.State.Msgs != n {
		t.Fatalf("%d messages after restart, want %d", info.State.Msgs, n)
	}
	dev2.stop(t)
}
