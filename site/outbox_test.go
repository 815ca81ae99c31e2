package site_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/site"
)

// TestSiteKeepsItsOutboxAndNameAcrossRestartsAndRefusesAMismatch: a site
// restarted on its data directory has the same server name and the
// messages it had queued; one whose outbox was changed (here: discard
// old, which would drop queued messages silently) refuses to start
// rather than re-create it (nats-io/nats-server#6206), and the messages
// are still there.
func TestSiteKeepsItsOutboxAndNameAcrossRestartsAndRefusesAMismatch(t *testing.T) {
	h := startHub(t)
	ctx := testContext(t, 60*time.Second)
	dir := t.TempDir()
	// No hub reachable: everything stays queued.
	opts := site.Options{Hub: []string{"nats-leaf://127.0.0.1:1"}, Creds: h.creds["st-mary"], DataDir: dir, Listen: "127.0.0.1:-1", Log: zaptest.NewLogger(t)}
	s, err := site.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	name := s.Name()
	js := localJS(t, s)
	for range 3 {
		_, msg := h.seal("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_NORMAL})
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	s.Exit()
	s, err = site.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != name {
		t.Fatalf("server name %q after restart, was %q", s.Name(), name)
	}
	js = localJS(t, s)
	if err := wantMsgs(ctx, js, site.StreamOutbox, 3); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, site.StreamOutbox)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Discard = jetstream.DiscardOld
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	s.Exit()
	if _, err := site.New(ctx, opts); !errors.Is(err, site.ErrOutboxMismatch) {
		t.Fatalf("a site with a changed outbox: %v, want ErrOutboxMismatch", err)
	}
	// The refused start left the outbox and its messages as they were.
	bare, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "jetstream"), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	bare.Start()
	t.Cleanup(bare.Shutdown)
	if !bare.ReadyForConnections(10 * time.Second) {
		t.Fatal("bare server not ready")
	}
	nc, err := nats.Connect(bare.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bjs, _ := jetstream.New(nc)
	testwait.For(t, 10*time.Second, "the outbox as it was", func() error { return wantMsgs(ctx, bjs, site.StreamOutbox, 3) })
}
