package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"google.golang.org/protobuf/proto"
)

// Agent is one member organisation's agent. Create it with New, run it
// with Run.
type Agent struct {
	opts   Options
	log    *zap.Logger
	member string
	lock   *os.File
	lanes  map[string]bool
	inv    *inventory // nil without Options.Inventory

	quarantine *quarantine
	recent     *recent
	receipted  *seen
	status     *tracker

	// Set by Run.
	cl  *client.Client
	js  jetstream.JetStream
	dir *directory
	chk *checker
	out atomic.Pointer[outbox]

	// onWrite, when set, sees every batch of records once the sinks have
	// it (benchmarks, tests).
	onWrite func([]*Record)
}

// New checks opts, takes the state directory (one agent per directory)
// and returns the agent. It does not connect: see Run.
func New(opts Options, log *zap.Logger) (*Agent, error) {
	if log == nil {
		log = zap.NewNop()
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var inv *inventory
	if len(opts.Inventory) > 0 {
		if inv, err = openInventory(opts.Inventory, opts.Aliases, log.Named("agent")); err != nil {
			return nil, err
		}
	}
	member, err := client.MemberFromCreds(opts.CredsFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: state directory: %v", ErrOptions, err)
	}
	lock, err := lockDir(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if err := removeTemps(opts.StateDir); err != nil {
		lock.Close()
		return nil, err
	}
	log = log.Named("agent").With(zap.String("member", member))
	a := &Agent{
		opts: opts, log: log, member: member, lock: lock, lanes: map[string]bool{}, inv: inv,
		quarantine: &quarantine{path: QuarantinePath(opts.StateDir)},
		recent:     &recent{max: opts.Recent},
		receipted:  newSeen(4096),
		status:     newTracker(member, opts.Status, log),
	}
	for _, l := range opts.Lanes {
		a.lanes[l] = true
	}
	if opts.Pager != nil {
		opts.Pager.OnSettled(a.pagerSettled)
	}
	return a, nil
}

// Member is the member id the agent acts for.
func (a *Agent) Member() string { return a.member }

// laneWanted reports whether lane goes to the sinks.
func (a *Agent) laneWanted(lane string) bool { return len(a.lanes) == 0 || lane == "" || a.lanes[lane] }

// sectorWanted reports whether the copies of sector go to the sinks (""
// is no sector: an inbox copy).
func (a *Agent) sectorWanted(sector string) bool {
	return sector == "" || len(a.opts.Sectors) == 0 || slices.Contains(a.opts.Sectors, sector)
}

// mayWant reports whether a copy on lane may go to the sinks: its lane is
// wanted or, with an inventory, the lane a match raises it to is.
func (a *Agent) mayWant(lane string) bool {
	return a.laneWanted(lane) || (a.inv != nil && a.laneWanted(raisedLane(lane)))
}

// wants reports whether rec goes to the sinks: its lane is wanted, or it
// matched the inventory and the lane it is raised to is (a routine CSAF
// advisory that matched reaches an agent that takes urgent and flash).
func (a *Agent) wants(rec *Record) bool {
	return a.laneWanted(rec.Lane) || (len(rec.Affected) > 0 && a.laneWanted(raisedLane(rec.Lane)))
}

// Run connects, reads the member's consumers into the sinks until ctx
// ends, then closes the sinks and releases the state directory. It returns
// early only for what retrying cannot fix (a sector the member is not in).
func (a *Agent) Run(ctx context.Context) error {
	defer a.release()
	if err := a.connect(ctx); err != nil {
		return err
	}
	defer a.cl.Close()
	defer a.status.stop() // before the close, which is no lost connection
	consumers, err := a.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	out := a.out.Load()
	defer out.close()
	if a.opts.HTTPAddr != "" {
		srv, err := a.serveHTTP()
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	run(func() { out.run(ctx) })
	run(func() { a.refreshDirectory(ctx) })
	if a.opts.Pager != nil {
		run(func() { _ = a.opts.Pager.Run(ctx) })
	}
	if a.inv != nil {
		run(func() { a.inv.watch(ctx, a.opts.InventoryPoll) })
	}
	for _, c := range consumers {
		run(func() { a.runConsumer(ctx, c) })
	}
	wg.Wait()
	return nil
}

// release closes the sinks and unlocks the state directory.
func (a *Agent) release() {
	for _, s := range a.opts.Sinks {
		if err := s.Close(); err != nil {
			a.log.Warn("closing sink", zap.String("sink", s.Name()), zap.Error(err))
		}
	}
	a.lock.Close()
}

// reconnectDelay is the wait before reconnect attempt n: 100ms doubling to
// 5s, with jitter so that many agents do not come back at once.
func reconnectDelay(attempts int) time.Duration {
	d := min(100*time.Millisecond<<min(attempts, 6), 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// connect opens the member's connection; it keeps trying in the background
// when the cluster is not reachable yet.
func (a *Agent) connect(ctx context.Context) error {
	opts := append([]nats.Option{
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ConnectHandler(func(nc *nats.Conn) { a.status.setConnected(true, nc.ConnectedUrlRedacted()) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { a.status.setConnected(true, nc.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.log.Info("connection lost", zap.Error(err))
			}
			a.status.setConnected(false, "")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { a.log.Warn("connection error", zap.Error(err)) }),
	}, a.opts.NATS...)
	cl, err := client.Connect(ctx, client.Options{Servers: a.opts.Servers, CredsFile: a.opts.CredsFile, Name: a.opts.Name, NATS: opts})
	if err != nil {
		return err
	}
	a.cl, a.js = cl, cl.JetStream()
	if cl.Conn().IsConnected() {
		a.status.setConnected(true, cl.Conn().ConnectedUrlRedacted())
	}
	return nil
}

// start loads the directory, works out the consumers, and opens the
// checker and the outbox.
func (a *Agent) start(ctx context.Context) ([]auth.Consumer, error) {
	a.dir = newDirectory(a.cl.Conn(), filepath.Join(a.opts.StateDir, "directory.pb"), a.opts.DirectoryRefresh, a.log)
	if err := a.dir.load(); err != nil {
		return nil, err
	}
	b := backoff{min: 200 * time.Millisecond, max: 10 * time.Second}
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.dir.refresh(rctx)
		cancel()
		if err == nil {
			break
		}
		if a.dir.known() {
			a.log.Warn("cannot fetch the member directory; verifying with the saved copy until it can be", zap.Error(err))
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.status.say("waiting for the member directory: %v", err)
		b.wait(ctx)
	}
	me, err := a.dir.Member(ctx, a.member)
	if err != nil {
		return nil, fmt.Errorf("%s is not in the member directory: %w; check the .creds file", a.member, err)
	}
	if me.GetRevokedAt() != nil {
		return nil, fmt.Errorf("%s was revoked at %s", a.member, me.GetRevokedAt().AsTime().Format(time.RFC3339))
	}
	wanted := a.opts.Sectors
	if len(wanted) == 0 {
		wanted = me.GetSectors()
	}
	for _, s := range wanted {
		if !slices.Contains(me.GetSectors(), s) {
			return nil, fmt.Errorf("%w: %s is not in sector %q; its sectors are %v", ErrOptions, a.member, s, me.GetSectors())
		}
	}
	// One consumer reads every sector of the member (its filters follow
	// the registry), one its inbox; the rejections consumer is not read.
	var consumers []auth.Consumer
	for _, c := range auth.Consumers(me) {
		if isStream(c.Stream, subjects.StreamInbox) || (isStream(c.Stream, subjects.StreamSectors) && len(wanted) > 0) {
			consumers = append(consumers, c)
		}
	}
	if len(consumers) == 0 {
		return nil, fmt.Errorf("%s reads nothing: its roles give it no consumers", a.member)
	}
	a.chk = &checker{me: a.member, sectors: newSectorSet(me.GetSectors()), dir: a.dir, verifier: envelope.NewVerifier(a.dir, envelope.VerifyOptions{Relays: a.dir.relays()}), inv: a.inv, log: a.log}
	out, err := openOutbox(a.opts.StateDir, a.js, a.member, a.log)
	if err != nil {
		return nil, err
	}
	a.out.Store(out)
	return consumers, nil
}

// refreshDirectory fetches the directory again when it is due.
func (a *Agent) refreshDirectory(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.dir.due() {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := a.dir.refresh(rctx); err != nil && ctx.Err() == nil {
			a.log.Warn("cannot refresh the member directory", zap.Error(err))
		}
		cancel()
	}
}

// Receipt queues a receipt for message id in the outbox: sent now, or when
// the cluster is reachable again. It returns the receipt's envelope id.
func (a *Agent) Receipt(id string, state tocsinv1.ReceiptState, note string) (string, error) {
	if !envelope.ValidID(id) {
		return "", fmt.Errorf("%q is not a message id", id)
	}
	if state == tocsinv1.ReceiptState_RECEIPT_STATE_UNSPECIFIED {
		return "", errors.New("a receipt needs a state: delivered, acknowledged or actioned")
	}
	rc := a.receiptOf(id, state, note)
	rid, err := a.queue(tocsinv1.Kind_KIND_RECEIPT, rc)
	if err == nil {
		a.settlePage(id, state, "")
	}
	return rid, err
}

// settlePage tells the pager that message id was acknowledged or
// actioned (by, if known, says who).
func (a *Agent) settlePage(id string, state tocsinv1.ReceiptState, by string) {
	p := a.opts.Pager
	if p == nil {
		return
	}
	var err error
	switch state {
	case tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED:
		_, err = p.Acknowledge(id, by)
	case tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED:
		_, err = p.Resolve(id)
	}
	if err != nil {
		a.log.Warn("page", zap.String("id", id), zap.Error(err))
	}
}

// Sighting queues a sighting in the outbox and returns its envelope id.
func (a *Agent) Sighting(s *tocsinv1.Sighting) (string, error) {
	if err := CheckSighting(s); err != nil {
		return "", err
	}
	return a.queue(tocsinv1.Kind_KIND_SIGHTING, s)
}

func (a *Agent) queue(kind tocsinv1.Kind, payload proto.Message) (string, error) {
	out := a.out.Load()
	if out == nil {
		return "", errors.New("the agent is not running yet")
	}
	env, err := a.cl.Signer().Seal(kind, payload)
	if err != nil {
		return "", err
	}
	if err := out.add(env); err != nil {
		return "", err
	}
	return env.GetId(), nil
}
