package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/inprogress"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// reader reads one consumer into the sinks.
type reader struct {
	a   *Agent
	c   auth.Consumer
	pos *position
	log *zap.Logger
	// floorAt is when the consumer's ack floor was last read.
	floorAt time.Time
	// owed are the ids written to the sinks whose delivered receipts are
	// not sealed yet, and held the messages they came in: acknowledged
	// only once the receipts are in the outbox (flush), so a crash
	// before then has them delivered again and the receipt owed again.
	owed      []receiptDue
	owedAt    time.Time // when the last of owed was written
	held      []jetstream.Msg
	heldSince time.Time
}

// Delivered receipts are sealed for every group written in the last
// receiptEvery, or as soon as receiptBatch are owed: one outbox fsync and
// one replicated write for them all. A receipt for each group doubled the
// fan-out's p99 on a busy disk (docs/AGENT.md). Only the messages that owe
// a receipt are held, so they stay well inside the consumers'
// MaxAckPending and AckWait. receiptEvery is a variable for the tests.
var receiptEvery = 2 * time.Second

const receiptBatch = 256

// floorEvery is how often, at most, a reader reads its consumer's ack
// floor into its position while messages flow: a CONSUMER.INFO request per
// consumer, so not too often with a thousand agents.
const floorEvery = 10 * time.Second

// errRetry is wrapped when a batch stopped on a transient failure.
var errRetry = errors.New("batch interrupted")

// runConsumer reads consumer c until ctx ends, binding it again (and
// having it re-created when its node is gone) after every interruption.
func (a *Agent) runConsumer(ctx context.Context, c auth.Consumer) {
	pos, err := loadPosition(a.opts.StateDir, c.Name)
	if err != nil {
		a.log.Error("cannot read the consumer's position; starting from the consumer's own", zap.String("consumer", c.Name), zap.Error(err))
		pos = &position{path: "", last: 0}
	}
	if pos.last == 0 && isStream(c.Stream, subjects.StreamSectors) {
		pos.last = a.legacyPosition(c)
	}
	r := &reader{a: a, c: c, pos: pos, log: a.log.With(zap.String("consumer", c.Name))}
	a.status.bound(c.Name, false, 0)
	b := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	for ctx.Err() == nil {
		cons, err := r.bind(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Info("consumer not available; will retry", zap.Error(err))
				b.wait(ctx)
			}
			continue
		}
		began := time.Now()
		err = r.pull(ctx, cons)
		if time.Since(began) > 10*time.Second {
			b.reset() // it ran a while: a fresh interruption, not a loop
		}
		a.status.bound(c.Name, false, 0)
		if ctx.Err() != nil {
			return
		}
		r.log.Info("consumer interrupted; binding it again", zap.Error(err))
		b.wait(ctx)
	}
}

// legacyPosition is where an agent of an earlier version, which read one
// consumer per sector, had got to: the lowest of their saved ack floors
// (0 without any). Should the cluster lose the per-sector consumers'
// floors before it migrates them, the SECTORS consumer is created from
// here, so that nothing they had not acknowledged is skipped.
func (a *Agent) legacyPosition(c auth.Consumer) uint64 {
	var low uint64
	for _, f := range c.Filters {
		_, f = subjects.OutOfRegion(f)
		sector := strings.TrimSuffix(strings.TrimPrefix(f, subjects.Prefix+".sector."), ".>")
		p, err := loadPosition(a.opts.StateDir, auth.LegacySectorConsumer(a.member, sector))
		if err != nil || p.last == 0 {
			return 0 // one sector's position is unknown: the cluster's is the one to use
		}
		if low == 0 || p.last < low {
			low = p.last
		}
	}
	return low
}

// bind looks the consumer up. A consumer that does not exist, or whose
// node is gone, is created again by the cluster's service from the
// position after the last message this agent wrote.
func (r *reader) bind(ctx context.Context) (jetstream.Consumer, error) {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cons, err := r.a.js.Consumer(cctx, r.c.Stream, r.c.Name)
		cancel()
		if err == nil {
			info := cons.CachedInfo()
			r.savePosition(info)
			r.a.status.bound(r.c.Name, true, info.NumPending+uint64(info.NumAckPending))
			return cons, nil
		}
		lost := errors.Is(err, jetstream.ErrConsumerNotFound) || auth.IsConsumerOffline(err)
		if !lost || attempt > 0 {
			return nil, err
		}
		if err := r.recreate(ctx); err != nil {
			return nil, err
		}
	}
}

// recreate asks the service for the consumer, from the last position + 1.
func (r *reader) recreate(ctx context.Context) error {
	req, _ := json.Marshal(consumerRequest{Name: r.c.Name, StartSeq: r.pos.last + 1})
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	msg, err := r.a.cl.Conn().RequestWithContext(cctx, ConsumerSubject(r.a.member), req)
	if err != nil {
		return fmt.Errorf("ask for consumer %s: %w", r.c.Name, err)
	}
	var rep consumerReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return fmt.Errorf("ask for consumer %s: the answer does not decode: %w", r.c.Name, err)
	}
	switch rep.Action {
	case "":
		return fmt.Errorf("consumer %s: %s", r.c.Name, rep.Error)
	case "recreated":
		r.a.status.say("consumer %s was lost with its node; re-created from stream sequence %d", r.c.Name, rep.StartSeq)
	case "created":
		r.a.status.say("consumer %s created from stream sequence %d", r.c.Name, rep.StartSeq)
	}
	return nil
}

// pull consumes and handles messages until something interrupts it. One
// subscription receives every pull request's messages (jetstream's
// Consume): with a fetch per request, a message the server sent to a
// request the agent had just given up on (its deadline a moment before the
// server's expiry, which a busy server sends late) was lost and came back
// only an ack wait later, 2 % of the deliveries of a loaded 1,000-agent run.
func (r *reader) pull(ctx context.Context, cons jetstream.Consumer) error {
	// MaxAckPending bounds what the server hands out unacknowledged, so
	// the callback never waits for room.
	msgs := make(chan jetstream.Msg, auth.ConsumerMaxAckPending+r.a.opts.Batch)
	failed := make(chan error, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) { msgs <- m },
		jetstream.PullMaxMessages(r.a.opts.Batch), jetstream.PullExpiry(r.a.opts.FetchWait), jetstream.PullHeartbeat(r.a.opts.heartbeat()),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			// Missed heartbeats may mean the consumer went with its node:
			// bind again (and have it re-created) rather than wait.
			if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConnectionClosed) {
				select {
				case failed <- err:
				default:
				}
			}
		}))
	if err != nil {
		return err
	}
	err = r.drain(ctx, cons, msgs, failed)
	if ferr := r.flush(); ferr != nil && err == nil {
		err = ferr
	}
	cc.Stop()
	select { // no callback runs after this
	case <-cc.Closed():
	case <-time.After(time.Second):
	}
	nakAll(msgs)
	if ctx.Err() != nil {
		r.readFloor(context.WithoutCancel(ctx), cons, true)
	}
	return err
}

// readFloor reads the consumer's ack floor into the position, at most once
// per floorEvery unless now is set. Every message at or below the floor
// was acknowledged, and the agent acknowledges only what its sinks hold, so
// the floor is where a lost consumer can safely start again. (The agent's
// own last sequence is not: after a crash, messages delivered to the dead
// process come back after newer ones.)
func (r *reader) readFloor(ctx context.Context, cons jetstream.Consumer, now bool) {
	if !now && time.Since(r.floorAt) < floorEvery {
		return
	}
	_ = r.a.cl.Conn().FlushTimeout(time.Second) // the acks first
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	r.savePosition(info)
}

// savePosition records the consumer's ack floor.
func (r *reader) savePosition(info *jetstream.ConsumerInfo) {
	r.floorAt = time.Now()
	if err := r.pos.save(info.AckFloor.Stream); err != nil {
		r.log.Warn("cannot save the consumer's position", zap.Error(err))
	}
}

// drain handles messages as they arrive: whatever has arrived is handled
// together (at most Batch) as soon as the next one is not there yet, so a
// lone flash alert is written at once and a backlog in large groups. It
// returns when the consumption failed or ctx ends.
func (r *reader) drain(ctx context.Context, cons jetstream.Consumer, msgs <-chan jetstream.Msg, failed <-chan error) error {
	floor := time.NewTicker(floorEvery)
	defer floor.Stop()
	var group []jetstream.Msg
	for {
		if len(group) == 0 {
			var due <-chan time.Time
			if len(r.held) > 0 {
				due = time.After(time.Until(r.heldSince.Add(receiptEvery)))
			}
			select {
			case m := <-msgs:
				group = append(group, m)
			case <-due:
				if err := r.flush(); err != nil {
					return err
				}
			case err := <-failed:
				return err
			case <-floor.C:
				r.readFloor(ctx, cons, false)
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		select {
		case m := <-msgs:
			if group = append(group, m); len(group) < r.a.opts.Batch {
				continue
			}
		default:
		}
		if err := r.handle(ctx, group); err != nil {
			return err
		}
		group = group[:0]
		r.readFloor(ctx, cons, false)
	}
}

// nakAll gives back what arrived and was not handled.
func nakAll(msgs <-chan jetstream.Msg) {
	for {
		select {
		case m := <-msgs:
			_ = m.NakWithDelay(time.Second)
		default:
			return
		}
	}
}

// handle verifies a group of messages, writes the good ones to every sink
// and queues their receipts, quarantines the bad ones, records the
// position and only then acknowledges. A transient failure stops the group
// where it happened: what came before is finished, the rest is given back.
func (r *reader) handle(ctx context.Context, group []jetstream.Msg) error {
	a := r.a
	defer inprogress.Keep(auth.ConsumerAckWait/3, group...)()
	var recs []*Record
	var recMsgs []jetstream.Msg // the message of each record
	var bad []QuarantineEntry
	done := len(group)
	var stop error
	for i, c := range r.checkAll(ctx, group) {
		if c.skip {
			continue
		}
		m, meta, rec, err := group[i], c.meta, c.rec, c.err
		var rf *refusal
		var echo *echoed
		switch {
		case errors.As(err, &echo):
			a.settleEcho(echo.receipt)
		case errors.As(err, &rf):
			bad = append(bad, QuarantineEntry{Time: time.Now().UTC(), Reason: rf.code, Message: rf.msg, Subject: m.Subject(),
				Stream: meta.Stream, Seq: meta.Sequence.Stream, MsgID: m.Headers().Get(jetstream.MsgIDHeader), Data: m.Data()})
			r.log.Warn("message quarantined", zap.String("reason", rf.code), zap.String("why", rf.msg), zap.Uint64("seq", meta.Sequence.Stream))
		case err != nil:
			done, stop = i, fmt.Errorf("%w at stream sequence %d: %v", errRetry, meta.Sequence.Stream, err)
		case a.wants(rec):
			rec.Received, rec.Routed, rec.Delivery = time.Now().UTC(), meta.Timestamp.UTC(), meta.NumDelivered
			recs, recMsgs = append(recs, rec), append(recMsgs, m)
		}
		if stop != nil {
			break
		}
	}
	owed, err := r.write(ctx, recs, bad)
	if err != nil {
		for _, m := range group {
			_ = m.NakWithDelay(time.Second)
		}
		return err
	}
	if done > 0 {
		if meta, _ := group[done-1].Metadata(); meta != nil {
			a.status.progress(r.c.Name, r.pos.last, meta.NumPending, len(recs), len(bad))
		}
	}
	// A message whose record owes a delivered receipt is held until the
	// receipt is in the outbox (flush); the others are done.
	var hold map[jetstream.Msg]bool // nil, nothing held, unless some are owed
	if len(owed) > 0 {
		if len(r.held) == 0 {
			r.heldSince = time.Now()
		}
		r.owed, r.owedAt = append(r.owed, owed...), time.Now()
		owes := make(map[string]bool, len(owed))
		for _, d := range owed {
			owes[d.id] = true
		}
		hold = make(map[jetstream.Msg]bool, len(owed))
		for k, rec := range recs {
			if owes[rec.ID] {
				hold[recMsgs[k]] = true
			}
		}
	}
	for _, m := range group[:done] {
		if hold[m] {
			r.held = append(r.held, m)
		} else {
			_ = m.Ack()
		}
	}
	for _, m := range group[done:] {
		_ = m.NakWithDelay(time.Second)
	}
	if len(r.owed) >= receiptBatch {
		if err := r.flush(); err != nil {
			return err
		}
	}
	return stop
}

// receiptDue is a message that owes a delivered receipt; affected when the
// receipt says that the member's inventory matched it
// (Options.ReportAffected).
type receiptDue struct {
	id       string
	affected bool
	// region is the region whose router routed the copy ("" on a single
	// cluster or the streams-region shape): a receipt names it
	// (ref_region) so that it is filed in that region's REACH.
	region string
}

// flush seals the owed receipts into the outbox, durably, and then
// acknowledges the messages they are for. Every one of them was written
// by owedAt, the receipts' time. The messages that matched the inventory,
// when the member reports it, share receipts of their own that say
// affected; the others' never do.
func (r *reader) flush() error {
	if len(r.owed) == 0 {
		return nil
	}
	// One receipt per (affected, region) group, in the order first owed.
	type group struct {
		affected bool
		region   string
	}
	var order []group
	ids := map[group][]string{}
	for _, d := range r.owed {
		g := group{d.affected, d.region}
		if _, ok := ids[g]; !ok {
			order = append(order, g)
		}
		ids[g] = append(ids[g], d.id)
	}
	var receipts []*tocsinv1.Envelope
	for _, g := range order {
		for chunk := range slices.Chunk(ids[g], records.MaxReceiptRefs) {
			rc := NewReceipt(chunk[0], tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED, "")
			rc.At = timestamppb.New(r.owedAt)
			rc.MoreRefIds = append(rc.MoreRefIds, chunk[1:]...)
			rc.Affected = g.affected
			rc.RefRegion = g.region
			env, err := r.a.cl.Signer().Seal(tocsinv1.Kind_KIND_RECEIPT, rc)
			if err != nil {
				return err
			}
			receipts = append(receipts, env)
		}
	}
	if err := r.a.out.Load().add(receipts...); err != nil {
		return err
	}
	for _, m := range r.held {
		_ = m.Ack()
	}
	r.owed, r.held = r.owed[:0], r.held[:0]
	return nil
}

// checked is the verdict on one message of a group.
type checked struct {
	skip bool // not a stream message, or a lane the agent does not take
	meta *jetstream.MsgMetadata
	rec  *Record
	err  error
}

// parallelCheck is the smallest group whose messages are verified on
// every core: a backlog is verification-bound (a signature and the STIX
// markings, about 0.1 ms each), a lone alert is not.
const parallelCheck = 16

// checkAll verifies a group's messages, on every core when the group is
// large, and returns the verdicts in the group's order.
func (r *reader) checkAll(ctx context.Context, group []jetstream.Msg) []checked {
	out := make([]checked, len(group))
	one := func(i int) {
		m := group[i]
		meta, err := m.Metadata()
		if err != nil {
			out[i].skip = true
			return
		}
		if d, _ := parseDestination(m.Subject()); (d.lane != "" && !r.a.mayWant(d.lane)) || !r.a.sectorWanted(d.sector) {
			out[i].skip = true
			return
		}
		out[i].meta = meta
		out[i].rec, out[i].err = r.a.chk.check(ctx, m.Subject(), m.Headers(), meta.Sequence.Stream, m.Data())
	}
	each(len(group), one)
	return out
}

// each calls f(0) ... f(n-1): on every core when n is at least
// parallelCheck, in order on this goroutine otherwise.
func each(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelCheck)
	if workers < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// write puts a group's records into every sink and the quarantine, durably,
// and returns the messages that now owe a delivered receipt (see flush).
func (r *reader) write(ctx context.Context, recs []*Record, bad []QuarantineEntry) ([]receiptDue, error) {
	a := r.a
	if err := a.quarantine.write(bad); err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	for _, s := range a.opts.Sinks {
		if err := s.Write(ctx, recs); err != nil {
			return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
		}
	}
	if err := a.page(recs); err != nil {
		return nil, err
	}
	if a.onWrite != nil {
		a.onWrite(recs)
	}
	var owed []receiptDue
	for _, rec := range recs {
		advisory := rec.Kind == KindAdvisory || rec.Kind == KindCSAFAdvisory
		if !rec.receipted || a.opts.Receipts == ReceiptsNone || (a.opts.Receipts == ReceiptsAdvisories && !advisory) {
			continue
		}
		if a.receipted.add(rec.ID) {
			region, _ := subjects.OutOfRegion(rec.Subject)
			owed = append(owed, receiptDue{id: rec.ID, affected: a.opts.ReportAffected && rec.Kind == KindCSAFAdvisory && len(rec.Affected) > 0, region: region})
		}
	}
	a.recent.add(recs)
	return owed, nil
}
