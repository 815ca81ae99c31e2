package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/subjects"
)

// RouteOptions configures the router benchmark.
type RouteOptions struct {
	// Alerts per pipeline, counted. Default 20,000: rounds of a few hundred
	// milliseconds measure their ramp and tail more than the rate.
	Alerts int
	// Rounds is how many turns each pipeline takes, Alerts/Rounds alerts
	// a turn, alternating which goes first: a machine that slows down or
	// speeds up during the run then weighs on both sides alike. Default 4.
	Rounds int
	// Warmup alerts go through each pipeline before the counted rounds
	// (connections, pull requests, caches, the heap). Default 200.
	Warmup int
	// SyncInterval of the cluster; zero means always. Default 0.
	SyncInterval time.Duration
	// DataDir holds the cluster's stores. Required.
	DataDir string
	// Progress, when set, gets a line as each step starts and ends.
	Progress func(string)
}

func (o RouteOptions) withDefaults() RouteOptions {
	if o.Alerts <= 0 {
		o.Alerts = 20000
	}
	if o.Rounds <= 0 {
		o.Rounds = 4
	}
	o.Rounds = min(o.Rounds, o.Alerts)
	if o.Warmup <= 0 {
		o.Warmup = 200
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return o
}

// RouteResult compares Tocsin's router with raw JetStream doing the same
// replicated writes per alert, on the same cluster, in the same run.
type RouteResult struct {
	Sync   string `json:"sync"`
	Alerts int    `json:"alerts"`
	Rounds int    `json:"rounds"`
	// AlertBytes is the size of one sealed alert envelope.
	AlertBytes int `json:"alert_bytes"`
	// RawPublishRate is a single raw async publish of the same envelopes.
	RawPublishRate float64 `json:"raw_publish_per_sec"`
	// RawPipelineRate is publish to ingest, consume, the same replicated
	// writes as the router (its record, dedupe claim, indicator index and
	// outcome, in one atomic batch; the copy), ack.
	RawPipelineRate float64 `json:"raw_pipeline_per_sec"`
	// RawFiveRate is the same with the five writes the router made before
	// its record became one batch (dedupe claim, copy, index, outcome):
	// RawPipelineRate / RawFiveRate is what the fewer writes alone gain,
	// and TocsinRate / RawFiveRate compares with the router of before
	// (whose ratio_vs_raw_pipeline was against this pipeline).
	RawFiveRate float64 `json:"raw_five_writes_per_sec"`
	// WriteGain is RawPipelineRate / RawFiveRate.
	WriteGain float64 `json:"raw_gain_batch_vs_five_writes"`
	// RatioFive is TocsinRate / RawFiveRate.
	RatioFive float64 `json:"ratio_vs_raw_five_writes"`
	// TocsinRate is the same alerts through the router.
	TocsinRate float64 `json:"tocsin_per_sec"`
	// RatioPipeline is TocsinRate / RawPipelineRate: what Tocsin's logic
	// (verify, validate, TLP, dedupe decisions, outcome check) costs.
	RatioPipeline float64 `json:"ratio_vs_raw_pipeline"`
	// RoundRatios is the same ratio in each round, in order: how much it
	// moves within one run.
	RoundRatios []float64 `json:"round_ratios"`
	// RatioPublish is TocsinRate / RawPublishRate.
	RatioPublish float64 `json:"ratio_vs_raw_publish"`
	// WritesPerAlert counts the replicated stream writes (KV included) one
	// alert caused, measured from the streams' sequences: an atomic batch
	// of several records counts as one write (its messages read back by
	// their batch headers), as it is one replicated proposal.
	WritesPerAlert float64 `json:"replicated_writes_per_alert"`
	// MessagesPerAlert counts the stream messages one alert caused, the
	// records of a batch each.
	MessagesPerAlert float64 `json:"messages_per_alert"`
	// RawWritesPerAlert and RawFiveWritesPerAlert are WritesPerAlert for
	// the raw pipelines.
	RawWritesPerAlert     float64 `json:"raw_writes_per_alert"`
	RawFiveWritesPerAlert float64 `json:"raw_five_writes_per_alert"`
	// RawCPUPerAlert and TocsinCPUPerAlert are the CPU time, in µs, the
	// whole process (the three servers, the clients, the pipeline) used
	// per alert during each side's rounds: one side runs at a time, so it
	// is that side's whole cost. RawCoresBusy and TocsinCoresBusy are the
	// cores kept busy on average meanwhile: near the machine's core count,
	// the rate is bound by CPU and the rate ratio follows the CPU ratio.
	// Zero where the platform does not report CPU time.
	RawCPUPerAlert     float64 `json:"raw_cpu_us_per_alert"`
	RawFiveCPUPerAlert float64 `json:"raw_five_cpu_us_per_alert"`
	TocsinCPUPerAlert  float64 `json:"tocsin_cpu_us_per_alert"`
	RawCoresBusy       float64 `json:"raw_cores_busy"`
	RawFiveCoresBusy   float64 `json:"raw_five_cores_busy"`
	TocsinCoresBusy    float64 `json:"tocsin_cores_busy"`
	// RecordBytes is the size of each of the router's records of an alert
	// (dedupe claim, indicator index, outcome), measured after the
	// warm-up; the raw pipelines write records as large (and their copies
	// carry the router's headers).
	RecordBytes map[string]int `json:"record_bytes"`
}

const benchSector = "patient-care"

// Route runs the router benchmark on a fresh 3-node cluster: a raw async
// publish, then the raw pipeline and Tocsin's router, both set up at once
// and fed Alerts one-indicator alerts of about 1 KiB to one sector in
// alternating rounds.
func Route(ctx context.Context, o RouteOptions, log *zap.Logger) (*RouteResult, error) {
	o = o.withDefaults()
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{DataDir: o.DataDir, BasePort: broker.RandomPort, SyncInterval: o.SyncInterval}, log)
	if err != nil {
		return nil, err
	}
	defer c.Shutdown()
	nc, err := nats.Connect(c.ClientURL())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(512))
	if err := provision(ctx, js, c); err != nil {
		return nil, err
	}
	src, err := newAlertSource(ctx, js)
	if err != nil {
		return nil, err
	}
	res := &RouteResult{Sync: SyncName(o.SyncInterval), Alerts: o.Alerts, Rounds: o.Rounds}
	o.Progress(fmt.Sprintf("sealing %d alerts", o.Warmup+o.Alerts))
	msgs, err := src.seal(o.Warmup + o.Alerts)
	if err != nil {
		return nil, err
	}
	warm, msgs := msgs[:o.Warmup], msgs[o.Warmup:]
	res.AlertBytes = len(msgs[0].Data)

	o.Progress("raw jetstream: async publish")
	if res.RawPublishRate, err = rawPublish(ctx, js, msgs); err != nil {
		return nil, err
	}
	o.Progress("setting up the pipelines: raw (publish, consume, the router's writes, ack), raw with the five writes of before, and the router on every node")
	sizes := &recordSizes{}
	raw, err := startRaw(ctx, c, js, sizes, rawBatch)
	if err != nil {
		return nil, err
	}
	defer raw.stop()
	five, err := startRaw(ctx, c, js, sizes, rawFive)
	if err != nil {
		return nil, err
	}
	defer five.stop()
	tocsin, err := startTocsin(ctx, c, src, log)
	if err != nil {
		return nil, err
	}
	defer tocsin.stop()
	if err := place(ctx, nc, js, c); err != nil {
		return nil, err
	}
	o.Progress(fmt.Sprintf("warm-up: %d alerts through each", o.Warmup))
	for _, p := range []*pipeline{tocsin, raw, five} {
		if _, err := p.run(ctx, js, warm); err != nil {
			return nil, err
		}
		if p == tocsin {
			// The raw pipeline's records are as large as the router's.
			if err := sizes.measure(ctx, js); err != nil {
				return nil, err
			}
		}
	}
	if err := rounds(ctx, js, o, res, raw, five, tocsin, msgs); err != nil {
		return nil, err
	}
	res.RawPipelineRate, res.RawFiveRate, res.TocsinRate = raw.rate(), five.rate(), tocsin.rate()
	res.RawCPUPerAlert, res.RawCoresBusy = raw.cpuPerAlert()
	res.RawFiveCPUPerAlert, res.RawFiveCoresBusy = five.cpuPerAlert()
	res.WriteGain = res.RawPipelineRate / res.RawFiveRate
	res.RatioFive = res.TocsinRate / res.RawFiveRate
	res.TocsinCPUPerAlert, res.TocsinCoresBusy = tocsin.cpuPerAlert()
	res.RecordBytes = sizes.bytes
	res.RatioPipeline = res.TocsinRate / res.RawPipelineRate
	res.RatioPublish = res.TocsinRate / res.RawPublishRate
	return res, nil
}

// place gives the pipelines the same placement: the leaders of the
// streams an alert is written to on nodes 1, 2, 3, 1, 2 in the order of
// each pipeline, and the leader of the consumer every alert is read from
// on node 1.
func place(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, c *broker.Cluster) error {
	for _, hot := range [][]string{rawHot, rawFiveHot, tocsinHot} {
		if err := placeLeaders(ctx, nc, js, c, hot); err != nil {
			return err
		}
	}
	first := c.Nodes()[0].Name()
	for _, in := range []string{rawBatch.name + "_IN", rawFive.name + "_IN"} {
		if err := moveConsumerLeader(ctx, nc, js, in, "raw", first); err != nil {
			return err
		}
	}
	return moveConsumerLeader(ctx, nc, js, subjects.StreamIngest, alerts.DefaultDurable, first)
}

// rounds feeds msgs to the pipelines in o.Rounds turns each, which goes
// first turning round, and counts the replicated writes each side made.
func rounds(ctx context.Context, js jetstream.JetStream, o RouteOptions, res *RouteResult, raw, five, tocsin *pipeline, msgs []*nats.Msg) error {
	sides := []*pipeline{raw, five, tocsin}
	before := make([]map[string]uint64, len(sides))
	for i, p := range sides {
		var err error
		if before[i], err = lastSeqs(ctx, js, p.writes); err != nil {
			return err
		}
	}
	for r := range o.Rounds {
		batch := msgs[r*len(msgs)/o.Rounds : (r+1)*len(msgs)/o.Rounds]
		order := append(slices.Clone(sides[r%len(sides):]), sides[:r%len(sides)]...)
		took := map[*pipeline]time.Duration{}
		for _, p := range order {
			t, err := p.run(ctx, js, batch)
			if err != nil {
				return err
			}
			took[p] = t.took
			p.took += t.took
			p.cpu += t.cpu
			p.alerts += len(batch)
		}
		ratio := took[raw].Seconds() / took[tocsin].Seconds()
		res.RoundRatios = append(res.RoundRatios, ratio)
		rate := func(p *pipeline) float64 { return float64(len(batch)) / took[p].Seconds() }
		o.Progress(fmt.Sprintf("round %d of %d: %d alerts each; raw %.0f/s, raw five writes %.0f/s, tocsin %.0f/s (%.2f)", r+1, o.Rounds, len(batch),
			rate(raw), rate(five), rate(tocsin), ratio))
	}
	for i, p := range sides {
		var w, n uint64
		if err := retry(ctx, "count the "+p.name+"'s writes", func(ctx context.Context) (err error) {
			w, n, err = countWrites(ctx, js, p.writes, before[i])
			return err
		}); err != nil {
			return err
		}
		perAlert := func(x uint64) float64 { return float64(x) / float64(len(msgs)) }
		switch p {
		case raw:
			res.RawWritesPerAlert = perAlert(w)
		case five:
			res.RawFiveWritesPerAlert = perAlert(w)
		default:
			res.WritesPerAlert, res.MessagesPerAlert = perAlert(w), perAlert(n)
		}
	}
	return nil
}

func provision(ctx context.Context, js jetstream.JetStream, c *broker.Cluster) error {
	return retry(ctx, "provision the streams", func(ctx context.Context) error { return broker.Provision(ctx, js, c.Replicas()) })
}

// rawPublish async-publishes copies of msgs to a scratch stream and
// returns the acknowledged rate.
func rawPublish(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) (float64, error) {
	if err := retry(ctx, "create stream RAW_PUB", func(ctx context.Context) error {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW_PUB", Subjects: []string{"raw.pub"}, Replicas: 3, Storage: jetstream.FileStorage})
		return err
	}); err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.Background(), "RAW_PUB")
	start := time.Now()
	if err := publishAll(ctx, js, msgs, func(m *nats.Msg) *nats.Msg {
		return &nats.Msg{Subject: "raw.pub", Data: m.Data, Header: m.Header}
	}); err != nil {
		return 0, err
	}
	return float64(len(msgs)) / time.Since(start).Seconds(), nil
}

// publishAll async-publishes every message (as rewritten by f) and waits
// for every PubAck.
func publishAll(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, f func(*nats.Msg) *nats.Msg) error {
	for _, m := range msgs {
		if _, err := js.PublishMsgAsync(f(m), jetstream.WithStallWait(time.Minute)); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
