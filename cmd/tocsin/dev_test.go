package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"google.golang.org/protobuf/proto"
)

// devArgs are the arguments of a `tocsin dev` on free ports: the three
// client ports from the base and the three route ports 2,000 above it are
// all free when picked.
func devArgs(t *testing.T, data string) (args []string, url string) {
	t.Helper()
	for range 100 {
		ports := freePorts(t, 1)
		base := 20000 + ports[0]%20000 // a base with room for +2 (client) and +2000+2 (routes)
		if !portsFree(base, base+1, base+2, base+2000, base+2001, base+2002) {
			continue
		}
		free := freePorts(t, 1)
		return []string{"dev", "--data", data, "--port", fmt.Sprint(base), "--http", fmt.Sprintf("127.0.0.1:%d", free[0]), "--log-level", "info"},
			fmt.Sprintf("nats://127.0.0.1:%d,nats://127.0.0.1:%d", base, base+1)
	}
	t.Fatal("no base port with its six ports free in 100 tries; stop other clusters on this machine")
	return nil, ""
}

// portsFree reports whether each port can be listened on now.
func portsFree(ports ...int) bool {
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// startDev starts `tocsin dev` on data and waits until it is ready. Its
// ports are free when picked but bound only by the child, so another test
// process can take one in between: a start that fails on a port in use is
// made again, on other ports and an empty data directory.
func startDev(t *testing.T, data string, timeout time.Duration) (dev *proc, args []string, url string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		args, url = devArgs(t, data)
		dev = start(t, args...)
		err := dev.wait("ready in", timeout)
		if err == nil {
			return dev, args, url
		}
		if attempt == 3 || !strings.Contains(dev.Output(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("attempt %d: a port was taken before tocsin dev bound it; starting again on other ports", attempt)
		if err := os.RemoveAll(data); err != nil {
			t.Fatal(err)
		}
	}
}

// `tocsin dev` stopped with SIGTERM and started again on the same data dir
// keeps every acknowledged message.
func TestDevRestartKeepsEveryMessage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	dev, args, url := startDev(t, data, 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A member publishes alerts with the credentials the dev cluster wrote;
	// the router routes them to the member's own sector.
	creds := filepath.Join(data, "creds", "st-mary.creds")
	member, err := client.Connect(ctx, client.Options{Servers: url, CredsFile: creds})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	sent := map[string]*tocsinv1.Envelope{}
	for i := range n {
		b := fmt.Sprintf(`{"type":"bundle","id":"bundle--6d0092c5-5f74-4287-9642-33f4c354e%03d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3c%03d","created":"2026-11-24T02:14:00.000Z","modified":"2026-11-24T02:14:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-11-24T02:14:00Z"}]}`, i, i, i)
		env, err := member.Publish(ctx, tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "c2", Lane: tocsinv1.Lane_LANE_URGENT,
			Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: []byte(b), Exercise: true})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		sent[env.GetId()] = env
	}
	for id := range sent {
		if o, err := member.WaitOutcome(ctx, id); err != nil || o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			t.Fatalf("alert %s: %v %v", id, o.GetState(), err)
		}
	}
	member.Close()
	dev.stop(t)
	if out := dev.Output(); !strings.Contains(out, "stopped") {
		t.Fatalf("no clean stop line in output:\n%s", out)
	}

	dev2 := start(t, args...)
	dev2.waitFor(t, "ready in", 90*time.Second)
	// The admin sees every acknowledged message still in INGEST ...
	st := pollStatus(t, url, 30*time.Second, func(st statusJSON) error { return nil }, "--creds", filepath.Join(data, "creds", "admin.creds"))
	for _, s := range st.Streams {
		if s.Name == subjects.StreamIngest && s.Messages != n {
			t.Fatalf("INGEST holds %d messages after restart, want %d", s.Messages, n)
		}
	}
	// ... and the member reads every routed copy, byte for byte, once.
	member, err = client.Connect(ctx, client.Options{Servers: url, CredsFile: creds})
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	cons, err := member.JetStream().Consumer(ctx, subjects.StreamSectors, auth.SectorConsumer("st-mary", "patient-care"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for len(got) < n {
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for m := range batch.Messages() {
			k++
			env, err := envelope.Decode(m.Data(), 0)
			if err != nil || !proto.Equal(env, sent[env.GetId()]) {
				t.Fatalf("a routed copy after restart is not what was sent (%v)", err)
			}
			got[env.GetId()]++
			_ = m.Ack()
		}
		if k == 0 {
			break
		}
	}
	if len(got) != n {
		t.Fatalf("the member reads %d of the %d alerts after restart", len(got), n)
	}
	dev2.stop(t)
}
