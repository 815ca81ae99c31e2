package server

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// TestServiceConnLogsAsyncErrors: a service connection's asynchronous
// errors (here a slow consumer) reach the node's log, not standard error.
func TestServiceConnLogsAsyncErrors(t *testing.T) {
	c := testcluster.Start(t)
	core, logs := observer.New(zap.DebugLevel)
	nc, err := serviceConn(c.Node(0), "svc-under-test", zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	block := make(chan struct{})
	defer close(block)
	sub, err := nc.Subscribe("slow", func(*nats.Msg) { <-block })
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(1, 1024); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := nc.Publish("slow", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	_ = nc.Flush()
	testwait.For(t, 10*time.Second, "the slow consumer error logged", testwait.True(func() bool { return logs.FilterMessage("connection error").Len() > 0 }))
	e := logs.FilterMessage("connection error").All()[0]
	if e.ContextMap()["connection"] != "svc-under-test" || e.ContextMap()["subject"] != "slow" {
		t.Fatalf("logged %v", e.ContextMap())
	}
}
