// Package alerts is Tocsin's alert pipeline: the router that takes what
// members publish on the ingest subjects, verifies, validates, enforces TLP,
// deduplicates and fans it out by sector, and records receipts, sightings
// and status reports. Every node runs a Router; they share one durable pull
// consumer, so each message is handled once and a node's loss moves its
// work to the others.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/internal/inprogress"
	"github.com/tocsin-project/tocsin/internal/keyed"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
)

// Options configures a Router. The zero value is the default.
type Options struct {
	// Vocabulary names the sectors and lanes. Default members.DefaultVocabulary().
	Vocabulary members.Vocabulary
	// MaxSkew is how far an envelope's time may be from the ingest stream's
	// timestamp. Default envelope.DefaultMaxSkew (5 minutes).
	MaxSkew time.Duration
	// FlashCap is how many flash alerts one publisher may send per
	// FlashWindow; past it they are held and an operator alarm is raised.
	// Default 20.
	FlashCap int
	// FlashWindow is the flash cap's window. Default 1 hour.
	FlashWindow time.Duration
	// MaxMessageBytes is the largest envelope accepted. Default 1 MiB.
	MaxMessageBytes int
	// Durable is the name of the shared durable consumer of alerts and
	// advisories. Default DefaultDurable.
	Durable string
	// RecordsDurable is the name of the shared durable consumer of
	// receipts, sightings and status reports: their own consumer, so that
	// the receipts an advisory causes (one per member) never queue in
	// front of the next alert. Default Durable + "-records".
	RecordsDurable string
	// AckWait is how long JetStream waits for a message's acknowledgement
	// before it redelivers it (to this or another node): how soon the
	// messages of a router that died come back (a dead letter's: every
	// DeadLetterEvery, the consumer's BackOff). A message whose handling
	// runs long is kept in progress every AckWait/3, so this bounds no
	// handling. Default 10s.
	AckWait time.Duration
	// Retry are the delays before a message whose handling failed for a
	// transient reason (the cluster, not the message) is delivered again,
	// after its first, second, ... delivery; a message still failing at
	// the delivery after the last is dead-lettered (internal/deadletter).
	// Default deadletter.DefaultRetry (1 s, 1 s, 2 s, 3 s ... 5 min: 9 minutes
	// in all).
	Retry []time.Duration
	// DeadLetterEvery is how often a dead-lettered message is tried again
	// until it is decided. Default deadletter.DefaultEvery (10 minutes).
	DeadLetterEvery time.Duration
	// Workers is how many messages are processed at once. Messages of one
	// sender are processed one after another, in order; different senders
	// in parallel. Default 32.
	Workers int
	// RecordsWorkers is how many receipts, sightings and status reports are
	// processed at once: a receipt waits for its REACH window
	// (ReachWindow), so as many as a window gathers must be waiting
	// together. Default 1024.
	RecordsWorkers int
	// ReachWindow is how long the receipts of one REACH set are gathered
	// before the set is written, once, by compare-and-set
	// (reachbatch.go). Default 250ms.
	ReachWindow time.Duration
	// Observe is told about every message handled (observe.go). Default nil.
	Observe Observer
	// DedupeWindow is how long an alert's claim of its pattern set in a
	// sector keeps a later alert with the same patterns from being
	// broadcast there again (it is counted as a sighting instead).
	// Default 24 hours.
	DedupeWindow time.Duration
	// Region is the node's region in a supercluster whose regions each
	// hold their own stream set (docs/REGIONS.md, broker.RegionSet): the
	// router reads INGEST-<region>, publishes its copies and rejections on
	// the region's subjects and keeps its records in the region's buckets
	// (ROUTED-<region>, ...). Default "": the streams, buckets and subjects
	// of a single cluster.
	Region string
}

// DefaultDurable is the name of the routers' shared durable consumer of
// alerts and advisories.
const DefaultDurable = "router"

func (o Options) withDefaults() Options {
	if len(o.Vocabulary.Sectors) == 0 {
		o.Vocabulary = members.DefaultVocabulary()
	}
	if o.MaxSkew == 0 {
		o.MaxSkew = envelope.DefaultMaxSkew
	}
	if o.FlashCap == 0 {
		o.FlashCap = 20
	}
	if o.FlashWindow == 0 {
		o.FlashWindow = time.Hour
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = envelope.DefaultMaxSize
	}
	if o.Durable == "" {
		o.Durable = DefaultDurable
	}
	if o.RecordsDurable == "" {
		o.RecordsDurable = o.Durable + "-records"
	}
	if o.AckWait == 0 {
		o.AckWait = 10 * time.Second
	}
	if o.Workers == 0 {
		o.Workers = 32
	}
	if o.DedupeWindow == 0 {
		o.DedupeWindow = 24 * time.Hour
	}
	if o.RecordsWorkers == 0 {
		o.RecordsWorkers = 1024
	}
	if o.ReachWindow == 0 {
		o.ReachWindow = 250 * time.Millisecond
	}
	return o
}

// Deps are what a Router works with.
type Deps struct {
	// JS is a JetStream context on a connection with the service's permissions,
	// made with jsctx.JetStream: its asynchronous publishes must time out.
	JS jetstream.JetStream
	// Registry is the member registry (its cache answers every lookup).
	Registry *members.Registry
	// Verifier checks envelope signatures against the registry.
	Verifier *envelope.Verifier
	// Validator checks STIX bundles; nil when the binary was built without
	// the schemas: every alert is then refused with "schemas-missing".
	Validator *stix.Validator
	// Signer signs what the router itself sends (rejections, summaries).
	Signer *envelope.Signer
}

// Router routes ingested messages. Run it on every node.
type Router struct {
	d    Deps
	opts Options
	log  *zap.Logger

	routed, dedupe, sightings, reach, situation, flash jetstream.KeyValue

	// reachBatch writes the receipts of a window once per REACH set;
	// routedMsgs are the routed messages receipts were filed under lately.
	reachBatch *reachBatcher
	routedMsgs routedCache
	// writer is the router's token in the REACH keys it alone writes
	// (reachBatcher.writerKey).
	writer string
	// others are other regions' records, for receipts of their messages
	// (Receipt.ref_region, receiptregion.go).
	others otherRegions

	sectors map[string]bool
	lanes   map[string]bool

	// firstIsNew: INGEST's duplicate window exceeds twice MaxSkew, so a
	// first delivery needs no outcome look-up (ingest.Checker).
	firstIsNew bool
}

// ErrSchemasMissing is returned by New's caller check and carried by
// rejections when the binary has no STIX schemas.
var ErrSchemasMissing = errors.New("stix schemas missing")

// New opens the buckets a router needs. It does not consume yet: see Run.
func New(ctx context.Context, d Deps, opts Options, log *zap.Logger) (*Router, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if d.JS == nil || d.Registry == nil || d.Verifier == nil || d.Signer == nil {
		return nil, errors.New("alerts: router needs JS, Registry, Verifier and Signer")
	}
	r := &Router{d: d, opts: opts.withDefaults(), log: log.Named("router"), sectors: map[string]bool{}, lanes: map[string]bool{}}
	for _, s := range r.opts.Vocabulary.Sectors {
		r.sectors[s] = true
	}
	for _, l := range r.opts.Vocabulary.Lanes {
		r.lanes[l] = true
	}
	buckets := []struct {
		name string
		kv   *jetstream.KeyValue
	}{
		{records.BucketRouted, &r.routed}, {records.BucketDedupe, &r.dedupe}, {records.BucketSightings, &r.sightings},
		{records.BucketReach, &r.reach}, {records.BucketSituation, &r.situation}, {records.BucketFlash, &r.flash},
	}
	for _, b := range buckets {
		b.name = r.bucket(b.name)
		kv, err := d.JS.KeyValue(ctx, b.name)
		if err != nil {
			return nil, fmt.Errorf("alerts: open bucket %s: %w", b.name, err)
		}
		*b.kv = kv
	}
	r.writer = newWriterToken()
	r.reachBatch = newReachBatcher(r.reach, r.sightings, r.opts.ReachWindow, r.writer)
	if d.Validator == nil {
		r.log.Error("this binary was built without the STIX schemas: every alert will be refused; run 'make schemas' (or 'make build') and rebuild")
	}
	return r, nil
}

// routedKinds are the ingest kinds the router fans out; recordKinds those
// it records. Aid has its own service.
var (
	routedKinds = []string{subjects.KindAlert, subjects.KindAdvisory}
	recordKinds = []string{subjects.KindReceipt, subjects.KindSighting, subjects.KindStatus}
)

// ingestFilters are the ingest subjects of kinds.
func (r *Router) ingestFilters(kinds []string) []string {
	var f []string
	for _, k := range kinds {
		f = append(f, r.in(subjects.Ingest(k, "*")))
	}
	return f
}

// in spells a Tocsin subject in the router's region (Options.Region).
func (r *Router) in(subject string) string { return subjects.InRegion(r.opts.Region, subject) }

// bucket names a stream or bucket of the router's region.
func (r *Router) bucket(name string) string { return subjects.RegionStream(name, r.opts.Region) }

// ingestSender is subjects.IngestSender of an ingest subject of any region.
func ingestSender(subject string) (kind, sender string, ok bool) {
	_, plain := subjects.OutOfRegion(subject)
	return subjects.IngestSender(plain)
}

// Run consumes the ingest stream until ctx ends. Up to Workers messages
// are processed at once; each sender's in order.
func (r *Router) Run(ctx context.Context) error {
	stop, err := r.Start(ctx)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// Start creates (or binds) the shared durable consumers, one for alerts
// and advisories and one for receipts, sightings and status reports, and
// starts consuming, and answers senders' reach requests (serveReach), and
// converts REACH keys of an earlier version in the background; it
// returns once messages flow, with a function that drains both and waits
// for the workers.
func (r *Router) Start(ctx context.Context) (stop func(), err error) {
	if err := r.checkDuplicateWindow(ctx); err != nil {
		return nil, err
	}
	lctx, stopLegacy := context.WithCancel(ctx)
	legacyDone := make(chan struct{})
	go func() { defer close(legacyDone); r.copyLegacy(lctx) }()
	stopCopy := func() { stopLegacy(); <-legacyDone }
	stopRouted, err := r.consume(ctx, r.opts.Durable, "the router's alerts and advisories: shared by every node", routedKinds, r.opts.Workers)
	if err != nil {
		stopCopy()
		return nil, err
	}
	stopRecords, err := r.consume(ctx, r.opts.RecordsDurable, "the router's receipts, sightings and status reports: shared by every node", recordKinds, r.opts.RecordsWorkers)
	if err != nil {
		stopCopy()
		stopRouted()
		return nil, err
	}
	stopReach, err := r.serveReach(ctx)
	if err != nil {
		stopRouted()
		stopRecords()
		return nil, err
	}
	mctx, stopMigrate := context.WithCancel(ctx)
	r.startMigrateReach(mctx)
	return func() { stopMigrate(); stopCopy(); stopReach(); stopRouted(); stopRecords() }, nil
}

// apiTimeout bounds the JetStream API calls Start makes. Its context may
// be the router's whole lifetime: a reply lost while a leader moves would
// otherwise hold Start until that context ends.
const apiTimeout = 10 * time.Second

// legacyCopyTimeout bounds the copy of the legacy records (migrateLegacy).
const legacyCopyTimeout = 2 * time.Minute

// consumeExpiry is how long one pull request of the router lives: a pull
// sent before the consumer's leader was ready is lost, and the client asks
// again only when it expires (30 s by default: that long a router would
// stand idle right after start).
const consumeExpiry = 5 * time.Second

// consume binds the durable consumer name of the ingest kinds and hands
// its messages to workers workers, each sender's in order.
func (r *Router) consume(ctx context.Context, name, desc string, kinds []string, workers int) (stop func(), err error) {
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	letters, err := deadletter.Open(cctx, r.d.JS, name, r.policy(), r.log)
	if err != nil {
		return nil, fmt.Errorf("alerts: router consumer %s: %w", name, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        name,
		Description:    desc,
		FilterSubjects: r.ingestFilters(kinds),
		AckPolicy:      jetstream.AckExplicitPolicy,
		MaxAckPending:  4096,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	letters.Policy().Apply(&cfg) // AckWait, BackOff, no MaxDeliver
	cons, err := r.d.JS.CreateOrUpdateConsumer(cctx, r.bucket(subjects.StreamIngest), cfg)
	if err != nil {
		return nil, fmt.Errorf("alerts: router consumer %s: %w", name, err)
	}
	exec := keyed.New(workers, func(m jetstream.Msg) { r.process(ctx, letters, m) })
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_, sender, _ := ingestSender(m.Subject())
		exec.Submit(sender, m)
	}, jetstream.PullMaxMessages(512), jetstream.PullExpiry(consumeExpiry), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			r.log.Debug("consume", zap.String("consumer", name), zap.Error(err))
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("alerts: router consume %s: %w", name, err)
	}
	return func() {
		cc.Drain()
		<-cc.Closed()
		exec.Wait()
	}, nil
}

// checkDuplicateWindow reads INGEST's duplicate window: longer than twice
// MaxSkew, a first delivery cannot repeat a handled message and is routed
// without looking its id up; otherwise every message is looked up.
func (r *Router) checkDuplicateWindow(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	s, err := r.d.JS.Stream(sctx, r.bucket(subjects.StreamIngest))
	if err != nil {
		return fmt.Errorf("alerts: read the %s stream: %w", r.bucket(subjects.StreamIngest), err)
	}
	dup := s.CachedInfo().Config.Duplicates
	r.firstIsNew = dup > 2*r.opts.MaxSkew
	if !r.firstIsNew {
		r.log.Warn("the ingest duplicate window is not longer than twice the clock-skew bound: every message's id is looked up before routing, which costs a round trip; re-provision the streams or lower MaxSkew",
			zap.Duration("duplicates", dup), zap.Duration("max_skew", r.opts.MaxSkew))
	}
	return nil
}

// handleTimeout bounds the handling of one message, which is kept in
// progress meanwhile: past it the handling is abandoned and the message
// given back, so that no call stuck on a lost node holds an alert (and
// every later message of its sender on this node) for longer.
const handleTimeout = 20 * time.Second

// policy is the retry and dead-letter policy of the router's consumers.
func (r *Router) policy() deadletter.Policy {
	return deadletter.Policy{AckWait: r.opts.AckWait, Retry: r.opts.Retry, Every: r.opts.DeadLetterEvery, Bucket: r.bucket(records.BucketDeadLetter)}
}

// process handles one message and acks it; a transient failure (the
// cluster, not the message) has it delivered again after a delay, and
// dead-lettered past the retries (letters).
func (r *Router) process(ctx context.Context, letters *deadletter.Letters, m jetstream.Msg) {
	start := time.Now()
	release := inprogress.Keep(r.opts.AckWait/3, m)
	hctx, cancel := context.WithTimeout(ctx, handleTimeout)
	err := r.handle(hctx, m)
	cancel()
	release()
	if err == nil {
		r.observe(m, start, nil)
		if err := m.DoubleAck(ctx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			r.log.Warn("ack", zap.String("subject", m.Subject()), zap.Error(err))
			return
		}
		letters.Decided(ctx, m)
		return
	}
	if ctx.Err() != nil {
		_ = m.Nak() // shutting down: another node takes it now
		return
	}
	var l later
	if errors.As(err, &l) {
		r.observe(m, start, err)
		_ = m.NakWithDelay(l.after)
		return
	}
	r.observe(m, start, letters.Failed(ctx, m, err))
}
