package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/client"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// startDev runs a dev server on free ports until the test ends and waits
// until it is ready.
func startDev(t *testing.T) *Server {
	t.Helper()
	return startDevWith(t, &DevOptions{DataDir: t.TempDir(), Port: broker.RandomPort})
}

// startDevWith is startDev with the dev options d.
func startDevWith(t *testing.T, d *DevOptions) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	s, err := New(ctx, Options{
		Dev:     d,
		NoHTTP:  true,
		OnReady: func(*Server) { close(ready) },
	}, zaptest.NewLogger(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// stopped is closed when Main returns: the cleanup waits for it too,
	// also after Main stopped the cluster before it was ready.
	stopped := make(chan struct{})
	var mainErr error
	go func() { mainErr = s.Main(ctx); close(stopped) }()
	t.Cleanup(func() {
		cancel()
		<-stopped
		s.Exit()
	})
	select {
	case <-ready:
	case <-stopped:
		t.Fatalf("dev server stopped: %v", mainErr)
	case <-time.After(90 * time.Second):
		t.Fatal("dev server not ready after 90s")
	}
	return s
}

// A member of the dev cluster, with the credentials it wrote, publishes an
// alert and the router on the cluster routes it: the whole wiring (auth,
// accounts, services, router) works, and keeps working after start-up.
func TestDevClusterRoutesAMembersAlert(t *testing.T) {
	s := startDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Options{Servers: s.cluster.ClientURL(), CredsFile: filepath.Join(s.CredsDir(), "st-mary.creds")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bundle, err := os.ReadFile(filepath.Join("..", "examples", "st-mary-ransomware.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Services must outlive the start-up step that launched them.
	time.Sleep(200 * time.Millisecond)
	env, err := c.Publish(ctx, tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "ransomware via vendor VPN", Lane: tocsinv1.Lane_LANE_FLASH,
		Sectors: []string{"patient-care", "health-it"}, Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: bundle, Exercise: true})
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.WaitOutcome(ctx, env.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED || len(o.GetSectors()) != 2 {
		t.Fatalf("outcome %v to %v (%v), want routed to 2 sectors", o.GetState(), o.GetSectors(), o.GetRejection())
	}
}

// A dev cluster's service whose start timed out (a loaded machine) is
// started again; any other failure stops the cluster.
func TestDevServiceRetriesATimeout(t *testing.T) {
	s := &Server{dev: &devAuth{}, log: zaptest.NewLogger(t)}
	errc := make(chan error, 1)
	calls := 0
	s.keepRunning(context.Background(), errc, "tocsin-1", "router", func(context.Context) error {
		if calls++; calls == 1 {
			return fmt.Errorf("alerts: router consumer router: %w", context.DeadlineExceeded)
		}
		return nil
	})
	if calls != 2 || len(errc) != 0 {
		t.Fatalf("%d starts, %d failures reported; want the timeout retried once and nothing reported", calls, len(errc))
	}
	s.keepRunning(context.Background(), errc, "tocsin-1", "router", func(context.Context) error { return errors.New("bad config") })
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "bad config") {
		t.Fatalf("reported %v, want the failure", err)
	}
}
