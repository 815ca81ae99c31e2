package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/alerts/pattern"
	"github.com/tocsin-project/tocsin/alerts/stix"
	"github.com/tocsin-project/tocsin/alerts/tlp"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/keyed"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// RouteOptions configures the router benchmark.
type RouteOptions struct {
	// Alerts per pipeline. Default 5,000.
	Alerts int
	// SyncInterval of the cluster; zero means always. Default 0.
	SyncInterval time.Duration
	// DataDir holds the cluster's stores. Required.
	DataDir string
	// Progress, when set, gets a line as each step starts.
	Progress func(string)
}

// RouteResult compares Tocsin's router with raw JetStream doing the same
// replicated writes per alert, on the same cluster, in the same run.
type RouteResult struct {
	Sync   string `json:"sync"`
	Alerts int    `json:"alerts"`
	// AlertBytes is the size of one sealed alert envelope.
	AlertBytes int `json:"alert_bytes"`
	// RawPublishRate is a single raw async publish of the same envelopes.
	RawPublishRate float64 `json:"raw_publish_per_sec"`
	// RawPipelineRate is publish to ingest, consume, the same replicated
	// writes as the router (dedupe key, copy, index key, outcome key), ack.
	RawPipelineRate float64 `json:"raw_pipeline_per_sec"`
	// TocsinRate is the same alerts through the router.
	TocsinRate float64 `json:"tocsin_per_sec"`
	// RatioPipeline is TocsinRate / RawPipelineRate: what Tocsin's logic
	// (verify, validate, TLP, dedupe decisions, outcome check) costs.
	RatioPipeline float64 `json:"ratio_vs_raw_pipeline"`
	// RatioPublish is TocsinRate / RawPublishRate.
	RatioPublish float64 `json:"ratio_vs_raw_publish"`
	// WritesPerAlert counts the replicated stream writes (KV included) one
	// alert caused, measured from the streams' message counts.
	WritesPerAlert float64 `json:"replicated_writes_per_alert"`
	// RawWritesPerAlert is the same for the raw pipeline.
	RawWritesPerAlert float64 `json:"raw_writes_per_alert"`
}

const benchSector = "patient-care"

// Route runs the router benchmark on a fresh 3-node cluster: the raw
// publish, the raw pipeline and Tocsin's router, each with Alerts
// one-indicator alerts of about 1 KiB to one sector.
func Route(ctx context.Context, o RouteOptions, log *zap.Logger) (*RouteResult, error) {
	if o.Alerts == 0 {
		o.Alerts = 5000
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
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
	env, err := newAlertSource(ctx, js)
	if err != nil {
		return nil, err
	}
	res := &RouteResult{Sync: SyncName(o.SyncInterval), Alerts: o.Alerts}
	o.Progress(fmt.Sprintf("sealing %d alerts", o.Alerts))
	msgs, err := env.seal(o.Alerts)
	if err != nil {
		return nil, err
	}
	res.AlertBytes = len(msgs[0].Data)

	o.Progress("raw jetstream: async publish")
	if res.RawPublishRate, err = rawPublish(ctx, js, msgs); err != nil {
		return nil, err
	}
	o.Progress("raw jetstream: pipeline (publish, consume, publish the copy, ack)")
	before, _ := totalMessages(ctx, js)
	if res.RawPipelineRate, err = rawPipeline(ctx, c, nc, js, msgs); err != nil {
		return nil, err
	}
	after, _ := totalMessages(ctx, js)
	res.RawWritesPerAlert = float64(after-before) / float64(o.Alerts)
	for _, b := range []string{broker.BucketRouted, broker.BucketDedupe, broker.BucketSightings} {
		_ = js.DeleteKeyValue(ctx, "RAW_"+b)
	}

	o.Progress("tocsin: the router on every node")
	before, _ = totalMessages(ctx, js)
	if err := placeLeaders(ctx, nc, js, c, tocsinHot); err != nil {
		return nil, err
	}
	if res.TocsinRate, err = tocsinPipeline(ctx, c, js, env, msgs, log); err != nil {
		return nil, err
	}
	after, _ = totalMessages(ctx, js)
	res.WritesPerAlert = float64(after-before) / float64(o.Alerts)
	res.RatioPipeline = res.TocsinRate / res.RawPipelineRate
	res.RatioPublish = res.TocsinRate / res.RawPublishRate
	return res, nil
}

func provision(ctx context.Context, js jetstream.JetStream, c *broker.Cluster) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := broker.Provision(actx, js, c.Replicas())
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// alertSource holds the benchmark's members and signers.
type alertSource struct {
	reg     *members.Registry
	signers []*envelope.Signer
	service *envelope.Signer
}

func newAlertSource(ctx context.Context, js jetstream.JetStream) (*alertSource, error) {
	reg, err := members.Open(ctx, js, members.DefaultVocabulary(), nil)
	if err != nil {
		return nil, err
	}
	src := &alertSource{reg: reg}
	var cast []*tocsinv1.Member
	for i := range 64 {
		cast = append(cast, &tocsinv1.Member{Id: fmt.Sprintf("hospital-%d", i), Name: "bench hospital", Sectors: []string{benchSector},
			Region: "northeast", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}})
	}
	cast = append(cast, &tocsinv1.Member{Id: "svc-bench", Name: "bench router", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}})
	for _, m := range cast {
		s, _, err := envelope.NewMemberKey(m)
		if err != nil {
			return nil, err
		}
		if m.GetId() == "svc-bench" {
			src.service = s
		} else {
			src.signers = append(src.signers, s)
		}
	}
	if _, err := reg.Seed(ctx, cast); err != nil {
		return nil, err
	}
	return src, nil
}

// seal makes n signed alerts, each with its own C2 address.
func (s *alertSource) seal(n int) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, 0, n)
	for i := range n {
		signer := s.signers[i%len(s.signers)]
		a := &tocsinv1.Alert{Title: "C2 of BlackHarbor ransomware", Lane: tocsinv1.Lane_LANE_URGENT, Sectors: []string{benchSector},
			Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: benchBundle(i), RecommendedAction: "block at the perimeter"}
		env, err := signer.Seal(tocsinv1.Kind_KIND_ALERT, a)
		if err != nil {
			return nil, err
		}
		data, err := envelope.Marshal(env)
		if err != nil {
			return nil, err
		}
		m := nats.NewMsg(subjects.Ingest(subjects.KindAlert, signer.Sender()))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, env.GetId())
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func benchBundle(i int) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	ind := "indicator--" + ids.V4()
	mark := []string{tlp.MarkingGreen}
	objs := []map[string]any{
		{"type": "indicator", "spec_version": "2.1", "id": ind, "created": now, "modified": now, "valid_from": now,
			"name": "BlackHarbor C2", "description": "Command and control address seen in the vendor VPN compromise at a northeast hospital.",
			"pattern": fmt.Sprintf("[ipv4-addr:value = '10.%d.%d.%d']", i/65536%256, i/256%256, i%256), "pattern_type": "stix",
			"indicator_types": []string{"malicious-activity"}, "object_marking_refs": mark,
			"kill_chain_phases": []map[string]string{{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}}},
		{"type": "malware", "spec_version": "2.1", "id": "malware--" + ids.V4(), "created": now, "modified": now,
			"name": "BlackHarbor", "is_family": true, "malware_types": []string{"ransomware"}, "object_marking_refs": mark},
	}
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": objs})
	return data
}

// rawPublish async-publishes copies of msgs to a scratch stream and
// returns the acknowledged rate.
func rawPublish(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) (float64, error) {
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW_PUB", Subjects: []string{"raw.pub"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
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

// rawPipeline makes the same replicated writes per alert as the router,
// in the same order and with the same waits, without its logic: consume the
// ingest message on every node with a shared durable; create the dedupe
// key; publish the copy to the sector stream while creating the indicator
// index key; create the outcome key; ack the ingest message.
func rawPipeline(ctx context.Context, c *broker.Cluster, nc *nats.Conn, js jetstream.JetStream, msgs []*nats.Msg) (float64, error) {
	for _, kc := range broker.KVConfigs(c.Replicas()) {
		if kc.Bucket != broker.BucketRouted && kc.Bucket != broker.BucketDedupe && kc.Bucket != broker.BucketSightings {
			continue
		}
		kc.Bucket = "RAW_" + kc.Bucket
		if _, err := js.CreateKeyValue(ctx, kc); err != nil {
			return 0, err
		}
	}
	for _, sc := range []jetstream.StreamConfig{
		{Name: "RAW_IN", Subjects: []string{"raw.in.>"}, Replicas: 3, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute},
		{Name: "RAW_OUT", Subjects: []string{"raw.out.>"}, Replicas: 3, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute},
	} {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			return 0, err
		}
	}
	if err := placeLeaders(ctx, nc, js, c, rawHot); err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); wg.Wait() }()
	for _, n := range c.Nodes() {
		nc, err := nats.Connect(n.ClientURL())
		if err != nil {
			return 0, err
		}
		defer nc.Close()
		njs, _ := jetstream.New(nc)
		cons, err := njs.CreateOrUpdateConsumer(ctx, "RAW_IN", jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
		if err != nil {
			return 0, err
		}
		kvs := map[string]jetstream.KeyValue{}
		for _, b := range []string{broker.BucketRouted, broker.BucketDedupe, broker.BucketSightings} {
			if kvs[b], err = njs.KeyValue(ctx, "RAW_"+b); err != nil {
				return 0, err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorkers(rctx, cons, func(m jetstream.Msg) {
				// Like the router, every write tolerates its own earlier
				// attempt, so a redelivery finishes the work; anything
				// else is retried.
				if err := rawRoute(rctx, njs, kvs, m); err != nil {
					_ = m.NakWithDelay(100 * time.Millisecond)
					return
				}
				_ = m.DoubleAck(rctx)
			})
		}()
	}
	start := time.Now()
	if err := publishAll(ctx, js, msgs, func(m *nats.Msg) *nats.Msg {
		return &nats.Msg{Subject: "raw.in." + m.Subject, Data: m.Data, Header: m.Header}
	}); err != nil {
		return 0, err
	}
	if err := waitCount(ctx, js, "RAW_OUT", uint64(len(msgs))); err != nil {
		return 0, err
	}
	return float64(len(msgs)) / time.Since(start).Seconds(), nil
}

// rawRoute makes the router's replicated writes for m: the dedupe claim;
// the copy to the sector stream while the indicator index is created; the
// outcome record.
func rawRoute(ctx context.Context, js jetstream.JetStream, kvs map[string]jetstream.KeyValue, m jetstream.Msg) error {
	id := m.Headers().Get(jetstream.MsgIDHeader)
	create := func(bucket, key string) error {
		_, err := kvs[bucket].Create(ctx, key, m.Data()[:64])
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil
		}
		return err
	}
	if err := create(broker.BucketDedupe, "p."+id+"."+benchSector); err != nil {
		return err
	}
	out := &nats.Msg{Subject: "raw.out." + benchSector, Data: m.Data(), Header: nats.Header{}}
	out.Header.Set(jetstream.MsgIDHeader, id+":"+benchSector)
	f, err := js.PublishMsgAsync(out)
	if err != nil {
		return err
	}
	if err := create(broker.BucketSightings, "i."+id); err != nil {
		return err
	}
	select {
	case <-f.Ok():
	case err := <-f.Err():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	return create(broker.BucketRouted, id)
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

// tocsinPipeline publishes the alerts to ingest with a router on every
// node and waits until every copy is on the sector stream.
func tocsinPipeline(ctx context.Context, c *broker.Cluster, js jetstream.JetStream, src *alertSource, msgs []*nats.Msg, log *zap.Logger) (float64, error) {
	validator, err := stix.New(stix.Options{PatternCheck: func(p string) error { _, err := pattern.Parse(p); return err }})
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); wg.Wait() }()
	for _, n := range c.Nodes() {
		nc, err := nats.Connect(n.ClientURL())
		if err != nil {
			return 0, err
		}
		defer nc.Close()
		njs, _ := jetstream.New(nc)
		reg, err := members.Open(ctx, njs, members.DefaultVocabulary(), nil)
		if err != nil {
			return 0, err
		}
		defer reg.Close()
		r, err := alerts.New(ctx, alerts.Deps{JS: njs, Registry: reg, Verifier: envelope.NewVerifier(reg, envelope.VerifyOptions{}),
			Validator: validator, Signer: src.service}, alerts.Options{}, log)
		if err != nil {
			return 0, err
		}
		stop, err := r.Start(rctx)
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() { defer wg.Done(); <-rctx.Done(); stop() }()
	}
	start := time.Now()
	if err := publishAll(ctx, js, msgs, func(m *nats.Msg) *nats.Msg { return m }); err != nil {
		return 0, err
	}
	if err := waitCount(ctx, js, subjects.StreamSectors, uint64(len(msgs))); err != nil {
		return 0, err
	}
	return float64(len(msgs)) / time.Since(start).Seconds(), nil
}

// waitCount polls until stream holds at least n messages.
func waitCount(ctx context.Context, js jetstream.JetStream, stream string, n uint64) error {
	for {
		s, err := js.Stream(ctx, stream)
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

// totalMessages sums every stream's message count (KV buckets included).
func totalMessages(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	var total uint64
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		if info.Config.Name == "RAW_PUB" {
			continue
		}
		total += info.State.Msgs
	}
	return total, lister.Err()
}
