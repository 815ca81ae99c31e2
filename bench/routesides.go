package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/internal/keyed"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// pipeline is one side of the router comparison, set up and consuming on
// every node: batches of alerts are published to it in turns with the
// other side.
type pipeline struct {
	name string
	// out is the stream every alert's copy lands on, done the stream of
	// its outcome record, the last of its writes; copies counts alerts.
	out    string
	done   string
	copies uint64
	// rewrite gives the message published for a sealed alert.
	rewrite func(*nats.Msg) *nats.Msg
	// writes reports whether a stream is one this side writes to.
	writes func(stream string) bool
	// took is the time its counted batches took, cpu the process's CPU
	// time meanwhile; alerts their number.
	took   time.Duration
	cpu    time.Duration
	alerts int
	stop   func()
}

// turn is one batch through a pipeline: how long it took and the CPU time
// the whole process (cluster, clients, the pipeline) used meanwhile.
type turn struct{ took, cpu time.Duration }

// run publishes msgs to the pipeline and waits until each has its copy and
// its outcome: every write of the batch is made, and none is left to fall
// into the next batch's count.
func (p *pipeline) run(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) (turn, error) {
	start, cpu := time.Now(), processCPU()
	if err := publishAll(ctx, js, msgs, p.rewrite); err != nil {
		return turn{}, fmt.Errorf("%s: %w", p.name, err)
	}
	p.copies += uint64(len(msgs))
	for _, stream := range []string{p.out, p.done} {
		if err := waitCount(ctx, js, stream, p.copies); err != nil {
			return turn{}, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return turn{took: time.Since(start), cpu: processCPU() - cpu}, nil
}

// rate is the pipeline's alerts per second over its counted batches.
func (p *pipeline) rate() float64 {
	if p.took <= 0 {
		return 0
	}
	return float64(p.alerts) / p.took.Seconds()
}

// cpuPerAlert is the process's CPU time per alert in µs over the
// pipeline's counted batches, and coresBusy the cores it kept busy on
// average: zero where the platform does not report CPU time.
func (p *pipeline) cpuPerAlert() (cpuPerAlert, coresBusy float64) {
	if p.alerts == 0 || p.took <= 0 {
		return 0, 0
	}
	return float64(p.cpu.Microseconds()) / float64(p.alerts), p.cpu.Seconds() / p.took.Seconds()
}

// rawShape is the shape of a raw pipeline's writes.
type rawShape struct {
	// name prefixes its streams and buckets ("RAW", "RAW5").
	name string
	// batch: the router's record as one atomic batch (claim, index,
	// outcome) before the copy, as the router writes it; else the five
	// writes of before: claim, copy with the index in flight, outcome.
	batch bool
}

var (
	rawBatch = rawShape{name: "RAW", batch: true}
	rawFive  = rawShape{name: "RAW5"}
)

// startRaw sets up a raw pipeline: the same replicated writes per alert
// as the router (rawBatch), or the five the router made before its record
// became one batch (rawFive), in the same order and with the same waits,
// without its logic: consume the ingest message on every node with a
// shared durable; write the records; publish the copy to the sector
// stream; ack the ingest message.
//
// Its records are as large as the router's (recordSizes): until they are
// known, 64 bytes each.
func startRaw(ctx context.Context, c *broker.Cluster, js jetstream.JetStream, sizes *recordSizes, shape rawShape) (*pipeline, error) {
	buckets := []string{records.BucketRouted}
	if !shape.batch {
		buckets = append(buckets, records.BucketDedupe, records.BucketSightings)
	}
	for _, kc := range broker.KVConfigs(c.Replicas()) {
		if !slices.Contains(buckets, kc.Bucket) {
			continue
		}
		kc.Bucket = shape.name + "_" + kc.Bucket
		if err := retry(ctx, "create bucket "+kc.Bucket, func(ctx context.Context) error {
			if _, err := js.CreateKeyValue(ctx, kc); err != nil {
				return err
			}
			return allowAtomic(ctx, js, "KV_"+kc.Bucket)
		}); err != nil {
			return nil, err
		}
	}
	in, out := shape.name+"_IN", shape.name+"_OUT"
	prefix := strings.ToLower(shape.name)
	for _, sc := range []jetstream.StreamConfig{
		{Name: in, Subjects: []string{prefix + ".in.>"}, Replicas: 3, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute},
		{Name: out, Subjects: []string{prefix + ".out.>"}, Replicas: 3, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute},
	} {
		if err := retry(ctx, "create stream "+sc.Name, func(ctx context.Context) error {
			_, err := js.CreateStream(ctx, sc)
			return err
		}); err != nil {
			return nil, err
		}
	}
	var (
		wg    sync.WaitGroup
		conns []*nats.Conn
	)
	rctx, cancel := context.WithCancel(ctx)
	name := "raw pipeline"
	if !shape.batch {
		name = "raw pipeline, five writes"
	}
	p := &pipeline{name: name, out: out, done: "KV_" + shape.name + "_" + records.BucketRouted,
		rewrite: func(m *nats.Msg) *nats.Msg {
			return &nats.Msg{Subject: prefix + ".in." + m.Subject, Data: m.Data, Header: m.Header}
		},
		writes: func(stream string) bool {
			return strings.HasPrefix(stream, shape.name+"_") || strings.HasPrefix(stream, "KV_"+shape.name+"_")
		},
		stop: func() {
			cancel()
			wg.Wait()
			for _, nc := range conns {
				nc.Close()
			}
		}}
	if shape.batch {
		// Its ROUTED bucket is written after the copy in the five-write
		// shape only: a round ends when the copy is in.
		p.done = out
	}
	for _, n := range c.Nodes() {
		nc, err := nats.Connect(n.ClientURL())
		if err != nil {
			p.stop()
			return nil, err
		}
		conns = append(conns, nc)
		njs, _ := jetstream.New(nc)
		var cons jetstream.Consumer
		kvs := map[string]jetstream.KeyValue{}
		if err := retry(ctx, "the raw pipeline's consumer and buckets", func(ctx context.Context) (err error) {
			cons, err = njs.CreateOrUpdateConsumer(ctx, in, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
			for _, b := range buckets {
				if err == nil {
					kvs[b], err = njs.KeyValue(ctx, shape.name+"_"+b)
				}
			}
			return err
		}); err != nil {
			p.stop()
			return nil, err
		}
		w := rawWriter{js: njs, kvs: kvs, sizes: sizes, out: prefix + ".out." + benchSector, routed: records.KeyPrefix(shape.name + "_" + records.BucketRouted)}
		route := w.five
		if shape.batch {
			route = w.batch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorkers(rctx, prefix+".in.", cons, func(m jetstream.Msg) {
				// Like the router, every write tolerates its own earlier
				// attempt, so a redelivery finishes the work; anything
				// else is retried.
				if err := route(rctx, m); err != nil {
					_ = m.NakWithDelay(100 * time.Millisecond)
					return
				}
				_ = m.DoubleAck(rctx)
			})
		}()
	}
	return p, nil
}

// allowAtomic turns on atomic batch publish on a stream.
func allowAtomic(ctx context.Context, js jetstream.JetStream, stream string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	cfg.AllowAtomicPublish = true
	_, err = js.UpdateStream(ctx, cfg)
	return err
}

// isRawStream reports whether stream is one a raw pipeline writes.
func isRawStream(stream string) bool {
	for _, shape := range []rawShape{rawBatch, rawFive} {
		if strings.HasPrefix(stream, shape.name+"_") || strings.HasPrefix(stream, "KV_"+shape.name+"_") {
			return true
		}
	}
	return false
}

// rawWriter makes a raw pipeline's writes for one node's connection.
type rawWriter struct {
	js     jetstream.JetStream
	kvs    map[string]jetstream.KeyValue
	sizes  *recordSizes
	out    string // the copy's subject
	routed string // the subject prefix of its ROUTED bucket's keys
}

// record is a record as large as the router's record of kind (a
// recordSizes key) cut from the alert.
func (w rawWriter) record(m jetstream.Msg, kind string) []byte {
	return m.Data()[:min(w.sizes.of(kind), len(m.Data()))]
}

// copyOf is the alert's copy to the sector stream, with the router's
// headers.
func (w rawWriter) copyOf(m jetstream.Msg, id string) *nats.Msg {
	out := &nats.Msg{Subject: w.out, Data: m.Data(), Header: nats.Header{}}
	out.Header.Set(jetstream.MsgIDHeader, id+":"+benchSector)
	out.Header.Set(records.HeaderKind, "alert")
	out.Header.Set(records.HeaderTLP, tlp.Green.String())
	return out
}

// batch makes the router's writes for m: its record (dedupe claim,
// indicator index, outcome) in one atomic batch, each conditional on its
// key's absence, then the copy. A record already there (a redelivery) is
// the earlier attempt's.
func (w rawWriter) batch(ctx context.Context, m jetstream.Msg) error {
	id := m.Headers().Get(jetstream.MsgIDHeader)
	keys := [][2]string{{"_.dedupe." + id + "." + benchSector, recordClaim}, {"_.indicator." + id, recordIndex}, {id, recordOutcome}}
	nc := w.js.Conn()
	batch := nuid.Next()
	var reply *nats.Msg
	for i, k := range keys {
		msg := &nats.Msg{Subject: w.routed + k[0], Data: w.record(m, k[1]), Header: nats.Header{}}
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		msg.Header.Set("Nats-Batch-Id", batch)
		msg.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < len(keys)-1 {
			if err := nc.PublishMsg(msg); err != nil {
				return err
			}
			continue
		}
		msg.Header.Set("Nats-Batch-Commit", "1")
		rctx, cancel := bounded(ctx)
		var err error
		reply, err = nc.RequestMsgWithContext(rctx, msg)
		cancel()
		if err != nil {
			return err
		}
	}
	var ack struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return err
	}
	if ack.Error != nil && ack.Error.ErrorCode != 10071 && ack.Error.ErrorCode != 10164 {
		return ack.Error
	}
	_, err := w.js.PublishMsg(ctx, w.copyOf(m, id))
	return err
}

// five makes the router's writes of before for m: the dedupe claim; the
// copy to the sector stream while the indicator index is created; the
// outcome record.
func (w rawWriter) five(ctx context.Context, m jetstream.Msg) error {
	id := m.Headers().Get(jetstream.MsgIDHeader)
	create := func(bucket, key, kind string) error {
		_, err := w.kvs[bucket].Create(ctx, key, w.record(m, kind))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil
		}
		return err
	}
	if err := create(records.BucketDedupe, "p."+id+"."+benchSector, recordClaim); err != nil {
		return err
	}
	f, err := w.js.PublishMsgAsync(w.copyOf(m, id))
	if err != nil {
		return err
	}
	if err := create(records.BucketSightings, "i."+id, recordIndex); err != nil {
		return err
	}
	if err := jsctx.AwaitPubAck(ctx, f); err != nil {
		return err
	}
	return create(records.BucketRouted, id, recordOutcome)
}

// The router's records an alert writes, as recordSizes names them.
const (
	recordClaim   = "dedupe claim"
	recordIndex   = "indicator index"
	recordOutcome = "outcome"
)

// recordSizes are the sizes of the router's records (dedupe claim,
// indicator index, outcome), for the raw pipelines to write records as
// large.
type recordSizes struct {
	mu    sync.Mutex
	bytes map[string]int
}

func (r *recordSizes) of(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.bytes[kind]; ok {
		return n
	}
	return 64
}

// measure reads one record of each kind the router wrote.
func (r *recordSizes) measure(ctx context.Context, js jetstream.JetStream) error {
	return retry(ctx, "measure the router's records", func(ctx context.Context) error { return r.measureOnce(ctx, js) })
}

func (r *recordSizes) measureOnce(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		return err
	}
	sizes := map[string]int{}
	for kind, filter := range map[string]string{recordClaim: records.RouterKeyPrefix + "dedupe.>", recordIndex: records.RouterKeyPrefix + "indicator.>", recordOutcome: "*.*"} {
		keys, err := kv.ListKeysFiltered(ctx, filter)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", records.BucketRouted, err)
		}
		for k := range keys.Keys() {
			if e, err := kv.Get(ctx, k); err == nil && (kind != recordOutcome || records.IsOutcomeKey(k)) {
				sizes[kind] = len(e.Value())
				_ = keys.Stop()
				break
			}
		}
		if _, ok := sizes[kind]; !ok {
			return fmt.Errorf("bucket %s: no %s of the router to measure", records.BucketRouted, kind)
		}
	}
	r.mu.Lock()
	r.bytes = sizes
	r.mu.Unlock()
	return nil
}

// runWorkers consumes with as many workers as the router has by default,
// each sender's messages in order, as the router does.
func runWorkers(ctx context.Context, prefix string, cons jetstream.Consumer, handle func(jetstream.Msg)) {
	exec := keyed.New(32, handle)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_, sender, _ := subjects.IngestSender(strings.TrimPrefix(m.Subject(), prefix))
		exec.Submit(sender, m)
	}, jetstream.PullMaxMessages(512))
	if err == nil {
		<-ctx.Done()
		cc.Stop()
	}
	exec.Wait()
}

// startTocsin starts Tocsin's router on every node, each on its own
// connection, as a node runs it.
func startTocsin(ctx context.Context, c *broker.Cluster, src *alertSource, log *zap.Logger) (*pipeline, error) {
	validator, err := stix.New(stix.Options{})
	if err != nil {
		return nil, err
	}
	var (
		wg      sync.WaitGroup
		closers []func()
	)
	rctx, cancel := context.WithCancel(ctx)
	// The copies are the router's last writes: a round ends when they are in.
	p := &pipeline{name: "tocsin router", out: subjects.StreamSectors, done: subjects.StreamSectors,
		rewrite: func(m *nats.Msg) *nats.Msg { return m },
		writes:  func(stream string) bool { return !isRawStream(stream) },
		stop: func() {
			cancel()
			wg.Wait()
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}}
	for _, n := range c.Nodes() {
		nc, err := nats.Connect(n.ClientURL())
		if err != nil {
			p.stop()
			return nil, err
		}
		closers = append(closers, nc.Close)
		njs, _ := jetstream.New(nc)
		var reg *members.Registry
		if err := retry(ctx, "open the member registry", func(ctx context.Context) (err error) {
			reg, err = members.Open(ctx, njs, members.DefaultVocabulary(), nil)
			return err
		}); err != nil {
			p.stop()
			return nil, err
		}
		closers = append(closers, reg.Close)
		var r *alerts.Router
		if err := retry(ctx, "set up the router", func(ctx context.Context) (err error) {
			r, err = alerts.New(ctx, alerts.Deps{JS: njs, Registry: reg, Verifier: envelope.NewVerifier(reg, envelope.VerifyOptions{}),
				Validator: validator, Signer: src.service}, alerts.Options{}, log)
			return err
		}); err != nil {
			p.stop()
			return nil, err
		}
		// Start makes its API calls bounded and consumes until rctx ends.
		var stop func()
		if err := retry(ctx, "start the router", func(context.Context) (err error) {
			stop, err = r.Start(rctx)
			return err
		}); err != nil {
			p.stop()
			return nil, err
		}
		wg.Add(1)
		go func() { defer wg.Done(); <-rctx.Done(); stop() }()
	}
	return p, nil
}

// waitCount polls until stream holds at least n messages.
func waitCount(ctx context.Context, js jetstream.JetStream, stream string, n uint64) error {
	for {
		sctx, cancel := bounded(ctx)
		s, err := js.Stream(sctx, stream)
		cancel()
		if err == nil && s.CachedInfo().State.Msgs >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s never reached %d messages: %w", stream, n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lastSeqs is the last sequence of each stream (KV buckets included)
// that matches.
func lastSeqs(ctx context.Context, js jetstream.JetStream, match func(stream string) bool) (map[string]uint64, error) {
	var seqs map[string]uint64
	err := retry(ctx, "read the streams' sequences", func(ctx context.Context) error {
		seqs = map[string]uint64{}
		lister := js.ListStreams(ctx)
		for info := range lister.Info() {
			if info.Config.Name != "RAW_PUB" && match(info.Config.Name) {
				seqs[info.Config.Name] = info.State.LastSeq
			}
		}
		return lister.Err()
	})
	return seqs, err
}

// countWrites counts the replicated writes made to the matching streams
// since before (their last sequences then), and the messages: an atomic
// batch is one write however many messages it holds. The messages of a
// stream that allows atomic batches are read back (headers only) and each
// batch counted at its commit.
func countWrites(ctx context.Context, js jetstream.JetStream, match func(stream string) bool, before map[string]uint64) (writes, msgs uint64, err error) {
	after, err := lastSeqs(ctx, js, match)
	if err != nil {
		return 0, 0, err
	}
	for name, last := range after {
		n := last - before[name]
		msgs += n
		s, err := js.Stream(ctx, name)
		if err != nil {
			return 0, 0, err
		}
		if n == 0 || !s.CachedInfo().Config.AllowAtomicPublish {
			writes += n
			continue
		}
		w, err := countBatched(ctx, s, before[name]+1, last)
		if err != nil {
			return 0, 0, fmt.Errorf("stream %s: %w", name, err)
		}
		writes += w
	}
	return writes, msgs, nil
}

// countBatched reads the headers of stream s's messages from sequence
// first to last and counts its writes: each message outside a batch, and
// each batch once (at its commit).
func countBatched(ctx context.Context, s jetstream.Stream, first, last uint64) (uint64, error) {
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: first, HeadersOnly: true})
	if err != nil {
		return 0, err
	}
	var writes uint64
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return 0, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return 0, err
			}
			if meta.Sequence.Stream > last {
				return writes, nil
			}
			if h := m.Headers(); h.Get("Nats-Batch-Id") == "" || h.Get("Nats-Batch-Commit") != "" {
				writes++
			}
			if meta.Sequence.Stream == last {
				return writes, nil
			}
		}
		if err := batch.Error(); err != nil {
			return 0, err
		}
		if got == 0 {
			return writes, nil // the last ones were replaced (history)
		}
	}
}
