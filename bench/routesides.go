package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// startRaw sets up the raw pipeline: the same replicated writes per alert
// as the router, in the same order and with the same waits, without its
// logic: consume the ingest message on every node with a shared durable;
// create the dedupe key; publish the copy to the sector stream while
// creating the indicator index key; create the outcome key; ack the ingest
// message.
//
// Its records are as large as the router's (recordSizes): until they are
// known, 64 bytes each.
func startRaw(ctx context.Context, c *broker.Cluster, js jetstream.JetStream, sizes *recordSizes) (*pipeline, error) {
	for _, kc := range broker.KVConfigs(c.Replicas()) {
		if kc.Bucket != records.BucketRouted && kc.Bucket != records.BucketDedupe && kc.Bucket != records.BucketSightings {
			continue
		}
		kc.Bucket = "RAW_" + kc.Bucket
		if err := retry(ctx, "create bucket "+kc.Bucket, func(ctx context.Context) error {
			_, err := js.CreateKeyValue(ctx, kc)
			return err
		}); err != nil {
			return nil, err
		}
	}
	for _, sc := range []jetstream.StreamConfig{
		{Name: "RAW_IN", Subjects: []string{"raw.in.>"}, Replicas: 3, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute},
		{Name: "RAW_OUT", Subjects: []string{"raw.out.>"}, Replicas: 3, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute},
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
	p := &pipeline{name: "raw pipeline", out: "RAW_OUT", done: "KV_RAW_" + records.BucketRouted,
		rewrite: func(m *nats.Msg) *nats.Msg {
			return &nats.Msg{Subject: "raw.in." + m.Subject, Data: m.Data, Header: m.Header}
		},
		writes: isRawStream,
		stop: func() {
			cancel()
			wg.Wait()
			for _, nc := range conns {
				nc.Close()
			}
		}}
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
			cons, err = njs.CreateOrUpdateConsumer(ctx, "RAW_IN", jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
			for _, b := range []string{records.BucketRouted, records.BucketDedupe, records.BucketSightings} {
				if err == nil {
					kvs[b], err = njs.KeyValue(ctx, "RAW_"+b)
				}
			}
			return err
		}); err != nil {
			p.stop()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorkers(rctx, cons, func(m jetstream.Msg) {
				// Like the router, every write tolerates its own earlier
				// attempt, so a redelivery finishes the work; anything
				// else is retried.
				if err := rawRoute(rctx, njs, kvs, sizes, m); err != nil {
					_ = m.NakWithDelay(100 * time.Millisecond)
					return
				}
				_ = m.DoubleAck(rctx)
			})
		}()
	}
	return p, nil
}

// isRawStream reports whether stream is one the raw pipeline writes.
func isRawStream(stream string) bool {
	return strings.HasPrefix(stream, "RAW_") || strings.HasPrefix(stream, "KV_RAW_")
}

// rawRoute makes the router's replicated writes for m: the dedupe claim;
// the copy to the sector stream, with the router's headers, while the
// indicator index is created; the outcome record. Each record is as large
// as the router's.
func rawRoute(ctx context.Context, js jetstream.JetStream, kvs map[string]jetstream.KeyValue, sizes *recordSizes, m jetstream.Msg) error {
	id := m.Headers().Get(jetstream.MsgIDHeader)
	create := func(bucket, key string) error {
		_, err := kvs[bucket].Create(ctx, key, m.Data()[:min(sizes.of(bucket), len(m.Data()))])
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil
		}
		return err
	}
	if err := create(records.BucketDedupe, "p."+id+"."+benchSector); err != nil {
		return err
	}
	out := &nats.Msg{Subject: "raw.out." + benchSector, Data: m.Data(), Header: nats.Header{}}
	out.Header.Set(jetstream.MsgIDHeader, id+":"+benchSector)
	out.Header.Set(records.HeaderKind, "alert")
	out.Header.Set(records.HeaderTLP, tlp.Green.String())
	f, err := js.PublishMsgAsync(out)
	if err != nil {
		return err
	}
	if err := create(records.BucketSightings, "i."+id); err != nil {
		return err
	}
	if err := jsctx.AwaitPubAck(ctx, f); err != nil {
		return err
	}
	return create(records.BucketRouted, id)
}

// recordSizes are the sizes of the router's records in the buckets an
// alert writes (dedupe claim, indicator index, outcome), for the raw
// pipeline to write records as large.
type recordSizes struct {
	mu    sync.Mutex
	bytes map[string]int
}

func (r *recordSizes) of(bucket string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.bytes[bucket]; ok {
		return n
	}
	return 64
}

// measure reads one record of each bucket the router wrote.
func (r *recordSizes) measure(ctx context.Context, js jetstream.JetStream) error {
	return retry(ctx, "measure the router's records", func(ctx context.Context) error { return r.measureOnce(ctx, js) })
}

func (r *recordSizes) measureOnce(ctx context.Context, js jetstream.JetStream) error {
	sizes := map[string]int{}
	for _, b := range []string{records.BucketRouted, records.BucketDedupe, records.BucketSightings} {
		kv, err := js.KeyValue(ctx, b)
		if err != nil {
			return err
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", b, err)
		}
		for k := range keys.Keys() {
			if e, err := kv.Get(ctx, k); err == nil {
				sizes[b] = len(e.Value())
				_ = keys.Stop()
				break
			}
		}
		if _, ok := sizes[b]; !ok {
			return fmt.Errorf("bucket %s: no record of the router to measure", b)
		}
	}
	r.mu.Lock()
	r.bytes = sizes
	r.mu.Unlock()
	return nil
}

// runWorkers consumes with as many workers as the router has by default,
// each sender's messages in order, as the router does.
func runWorkers(ctx context.Context, cons jetstream.Consumer, handle func(jetstream.Msg)) {
	exec := keyed.New(32, handle)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_, sender, _ := subjects.IngestSender(strings.TrimPrefix(m.Subject(), "raw.in."))
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
	p := &pipeline{name: "tocsin router", out: subjects.StreamSectors, done: "KV_" + records.BucketRouted,
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

// countMessages sums the message counts (KV buckets included) of the
// streams that match.
func countMessages(ctx context.Context, js jetstream.JetStream, match func(stream string) bool) (uint64, error) {
	var total uint64
	err := retry(ctx, "count the streams' messages", func(ctx context.Context) error {
		total = 0
		lister := js.ListStreams(ctx)
		for info := range lister.Info() {
			if info.Config.Name != "RAW_PUB" && match(info.Config.Name) {
				total += info.State.Msgs
			}
		}
		return lister.Err()
	})
	return total, err
}
