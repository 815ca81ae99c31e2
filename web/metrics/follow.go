package metrics

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/internal/follow"
)

// Follower counts, cluster-wide, what flows through the streams and
// buckets from the moment it starts: router and aid outcomes (ROUTED),
// rejections by reason (REJECTIONS), receipts by state (ingested receipt
// messages) and aid requests by state (AID, counted at each scrape from
// the requests followed). Every node follows the same
// data, so these are the cluster's figures on each node: aggregate them
// across nodes with max, not sum. In a supercluster of stream sets
// (docs/REGIONS.md) they are the figures of the node's region, its own
// set's (its router's outcomes and rejections, its members' receipts):
// max across a region's nodes, then sum across regions.
type Follower struct {
	js     jetstream.JetStream
	region string
	log    *zap.Logger

	// Outcomes counts recorded outcomes by state (routed, duplicate,
	// rejected, held).
	Outcomes *prometheus.CounterVec
	// Rejections counts rejections by the kind refused and the first
	// problem's reason code.
	Rejections *prometheus.CounterVec
	// Receipts counts receipt messages by state (delivered, acknowledged,
	// actioned).
	Receipts *prometheus.CounterVec

	mu      sync.Mutex
	aid     map[string]string         // request key → state
	cursors map[string]*atomic.Uint64 // followed stream source → next sequence

	starting sync.WaitGroup
	started  chan struct{}
}

// NewFollower returns a Follower reading through js the streams and
// buckets of region's set ("" for a single cluster's).
func NewFollower(js jetstream.JetStream, region string, log *zap.Logger) *Follower {
	if log == nil {
		log = zap.NewNop()
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	return &Follower{js: js, region: region, log: log.Named("metrics"), aid: map[string]string{}, started: make(chan struct{}),
		Outcomes:   counter("tocsin_outcomes_total", "Outcomes recorded in ROUTED since this node started, by state (cluster-wide).", "state"),
		Rejections: counter("tocsin_rejections_total", "Rejections sent since this node started, by kind refused and reason code (cluster-wide).", "kind", "code"),
		Receipts:   counter("tocsin_receipts_total", "Receipt messages ingested since this node started, by state (cluster-wide).", "state"),
	}
}

// Collectors are the Follower's metrics, to register.
func (f *Follower) Collectors() []prometheus.Collector {
	return []prometheus.Collector{f.Outcomes, f.Rejections, f.Receipts, aidRequests{f}}
}

var aidRequestsDesc = prometheus.NewDesc("tocsin_aid_requests", "Mutual-aid requests by state (cluster-wide).", []string{"state"}, nil)

// aidRequests counts the followed aid requests by state at each scrape.
type aidRequests struct{ f *Follower }

// Describe implements prometheus.Collector.
func (a aidRequests) Describe(ch chan<- *prometheus.Desc) { ch <- aidRequestsDesc }

// Collect implements prometheus.Collector.
func (a aidRequests) Collect(ch chan<- prometheus.Metric) {
	a.f.mu.Lock()
	counts := map[string]int{}
	for _, s := range a.f.aid {
		counts[s]++
	}
	a.f.mu.Unlock()
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(aidRequestsDesc, prometheus.GaugeValue, float64(n), s)
	}
}

// Started is closed once every source follows its stream or bucket:
// what flows from then on is counted.
func (f *Follower) Started() <-chan struct{} { return f.started }

// Run follows until ctx ends, each source restarted after a failure.
func (f *Follower) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	sources := map[string]func(context.Context, func()) error{
		"outcomes": f.outcomes, "rejections": f.rejections, "receipts": f.receipts, "aid": f.followAid,
	}
	f.starting.Add(len(sources))
	go func() { f.starting.Wait(); close(f.started) }()
	for name, run := range sources {
		var once sync.Once
		up := func() { once.Do(f.starting.Done) }
		wg.Go(func() { follow.Retry(ctx, f.log, name, func(ctx context.Context) error { return run(ctx, up) }) })
	}
	wg.Wait()
	return nil
}

// watch applies each update of a bucket's keys matching filter; up is
// called once the watch is in place.
func (f *Follower) watch(ctx context.Context, bucket, filter string, up func(), apply func(jetstream.KeyValueEntry), opts ...jetstream.WatchOpt) error {
	kv, err := f.js.KeyValue(ctx, subjects.RegionStream(bucket, f.region))
	if err != nil {
		return err
	}
	return follow.Bucket(ctx, kv, filter, up, apply, opts...)
}

func (f *Follower) outcomes(ctx context.Context, up func()) error {
	return f.watch(ctx, records.BucketRouted, ">", up, func(e jetstream.KeyValueEntry) {
		var o tocsinv1.Outcome
		if e.Operation() == jetstream.KeyValuePut && records.IsOutcomeKey(e.Key()) && proto.Unmarshal(e.Value(), &o) == nil {
			f.Outcomes.WithLabelValues(strings.ToLower(strings.TrimPrefix(o.GetState().String(), "OUTCOME_STATE_"))).Inc()
		}
	}, jetstream.UpdatesOnly())
}

// follow reads new messages of a stream's subject until an error; up is
// called once the consumer is in place. The first call starts after the
// stream's last message; a call after a failure starts after the last
// message handled, so that nothing published in between is missed (an
// ordered consumer "from new" would skip it).
func (f *Follower) follow(ctx context.Context, stream, filter string, up func(), handle func(*tocsinv1.Envelope)) error {
	stream, filter = subjects.RegionStream(stream, f.region), subjects.InRegion(f.region, filter)
	next := f.cursor(stream + " " + filter)
	if next.Load() == 0 {
		s, err := f.js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		next.Store(s.CachedInfo().State.LastSeq + 1)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: next.Load()}
	return follow.Stream(ctx, f.js, stream, cfg, up, func(m jetstream.Msg) error {
		if env, err := envelope.Decode(m.Data(), 0); err == nil {
			handle(env)
		}
		if meta, err := m.Metadata(); err == nil {
			next.Store(meta.Sequence.Stream + 1)
		}
		return nil
	})
}

// cursor is the next stream sequence of a followed source.
func (f *Follower) cursor(source string) *atomic.Uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cursors == nil {
		f.cursors = map[string]*atomic.Uint64{}
	}
	c, ok := f.cursors[source]
	if !ok {
		c = new(atomic.Uint64)
		f.cursors[source] = c
	}
	return c
}

func (f *Follower) rejections(ctx context.Context, up func()) error {
	return f.follow(ctx, subjects.StreamRejections, subjects.RejectionAll, up, func(env *tocsinv1.Envelope) {
		var rej tocsinv1.Rejection
		if proto.Unmarshal(env.GetPayload(), &rej) != nil {
			return
		}
		code := "unspecified"
		if ps := rej.GetProblems(); len(ps) > 0 {
			code = codes.Name(ps[0].GetCode())
		}
		f.Rejections.WithLabelValues(strings.ToLower(strings.TrimPrefix(rej.GetRefKind().String(), "KIND_")), code).Inc()
	})
}

func (f *Follower) receipts(ctx context.Context, up func()) error {
	return f.follow(ctx, subjects.StreamIngest, subjects.Ingest(subjects.KindReceipt, "*"), up, func(env *tocsinv1.Envelope) {
		var rc tocsinv1.Receipt
		if env.GetKind() == tocsinv1.Kind_KIND_RECEIPT && proto.Unmarshal(env.GetPayload(), &rc) == nil {
			f.Receipts.WithLabelValues(strings.ToLower(strings.TrimPrefix(rc.GetState().String(), "RECEIPT_STATE_"))).Inc()
		}
	})
}

// followAid keeps the state of every request (the AID bucket's "req."
// keys), which the tocsin_aid_requests gauge counts.
func (f *Follower) followAid(ctx context.Context, up func()) error {
	return f.watch(ctx, records.BucketAid, "req.*", up, func(e jetstream.KeyValueEntry) {
		var r struct {
			State string `json:"state"`
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &r) != nil {
			delete(f.aid, e.Key())
		} else {
			f.aid[e.Key()] = r.State
		}
	})
}
