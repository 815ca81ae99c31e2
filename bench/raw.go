package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/broker"
)

// RawOptions configures the raw JetStream baseline.
type RawOptions struct {
	// Messages per case. Default 20,000.
	Messages int
	// Sizes are the payload sizes in bytes. Default 512 and 4096.
	Sizes []int
	// SyncIntervals to compare; zero means always. Default: always and
	// nats-server's default (2m).
	SyncIntervals []time.Duration
	// MaxPending bounds the async publishes in flight. Default 256.
	MaxPending int
	// DataDir holds the clusters' stores. Required.
	DataDir string
	// Progress, when set, is called with a line as each case starts.
	Progress func(string)
}

// RawResult is one case of the raw baseline.
type RawResult struct {
	Sync        string  `json:"sync"`
	Size        int     `json:"size"`
	Messages    int     `json:"messages"`
	PublishRate float64 `json:"publish_msgs_per_sec"`
	ConsumeRate float64 `json:"consume_msgs_per_sec"`
	// AckLatency is publish to PubAck.
	AckLatency Latency `json:"ack_latency"`
	// Delivery is publish to receipt by a pull consumer.
	Delivery Latency `json:"delivery_latency"`
}

func (o RawOptions) withDefaults() RawOptions {
	if o.Messages == 0 {
		o.Messages = 20000
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{512, 4096}
	}
	if len(o.SyncIntervals) == 0 {
		o.SyncIntervals = []time.Duration{0, broker.NATSDefaultSyncInterval}
	}
	if o.MaxPending == 0 {
		o.MaxPending = 256
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return o
}

// SyncName spells a sync interval as in the configuration.
func SyncName(d time.Duration) string {
	if d == 0 {
		return "always"
	}
	return d.String()
}

// Raw runs the raw JetStream baseline: for each sync setting a fresh
// 3-node in-process cluster, an R3 file stream, async publishes with a
// pull consumer reading concurrently.
func Raw(ctx context.Context, o RawOptions, log *zap.Logger) ([]RawResult, error) {
	o = o.withDefaults()
	var out []RawResult
	for i, sync := range o.SyncIntervals {
		c, err := broker.StartCluster(ctx, broker.ClusterOptions{
			DataDir: fmt.Sprintf("%s/raw-%d", o.DataDir, i), BasePort: broker.RandomPort, SyncInterval: sync,
		}, log)
		if err != nil {
			return nil, err
		}
		for _, size := range o.Sizes {
			o.Progress(fmt.Sprintf("raw jetstream: sync %s, %d B, %d messages", SyncName(sync), size, o.Messages))
			r, err := rawCase(ctx, c, size, o)
			if err != nil {
				c.Shutdown()
				return nil, err
			}
			r.Sync = SyncName(sync)
			out = append(out, r)
		}
		c.Shutdown()
	}
	return out, nil
}

func rawCase(ctx context.Context, c *broker.Cluster, size int, o RawOptions) (RawResult, error) {
	res := RawResult{Size: size, Messages: o.Messages}
	urls := c.ClientURLs()
	pubNC, err := nats.Connect(urls[0])
	if err != nil {
		return res, err
	}
	defer pubNC.Close()
	subNC, err := nats.Connect(urls[1])
	if err != nil {
		return res, err
	}
	defer subNC.Close()
	js, _ := jetstream.New(pubNC, jetstream.WithPublishAsyncMaxPending(o.MaxPending))
	sjs, _ := jetstream.New(subNC)
	name := fmt.Sprintf("RAW_%d", size)
	subject := "raw." + name
	if err := retry(ctx, "create stream "+name, func(ctx context.Context) error {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Replicas: c.Replicas(), Storage: jetstream.FileStorage})
		return err
	}); err != nil {
		return res, err
	}
	defer js.DeleteStream(context.Background(), name)
	var cons jetstream.Consumer
	if err := retry(ctx, "create the consumer of "+name, func(ctx context.Context) (err error) {
		cons, err = sjs.CreateOrUpdateConsumer(ctx, name, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000})
		return err
	}); err != nil {
		return res, err
	}
	delivery := make([]time.Duration, 0, o.Messages)
	done := make(chan struct{})
	var mu sync.Mutex
	var lastRecv time.Time
	cc, err := cons.Consume(func(m jetstream.Msg) {
		sent := time.Unix(0, int64(binary.BigEndian.Uint64(m.Data())))
		now := time.Now()
		_ = m.Ack()
		mu.Lock()
		delivery = append(delivery, now.Sub(sent))
		lastRecv = now
		if len(delivery) == o.Messages {
			close(done)
		}
		mu.Unlock()
	}, jetstream.PullMaxMessages(1000))
	if err != nil {
		return res, err
	}
	defer cc.Stop()

	payload := make([]byte, size)
	acks := make([]time.Duration, o.Messages)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.Messages {
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		sent := time.Now()
		f, err := js.PublishAsync(subject, payload)
		if err != nil {
			return res, fmt.Errorf("publish %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-f.Ok():
				acks[i] = time.Since(sent)
			case err := <-f.Err():
				acks[i] = -1
				_ = err
			}
		}()
	}
	wg.Wait()
	pubDur := time.Since(start)
	for _, a := range acks {
		if a < 0 {
			return res, fmt.Errorf("a publish was not acknowledged")
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	mu.Lock()
	consDur := lastRecv.Sub(start)
	mu.Unlock()
	res.PublishRate = float64(o.Messages) / pubDur.Seconds()
	res.ConsumeRate = float64(o.Messages) / consDur.Seconds()
	res.AckLatency = summarize(acks)
	res.Delivery = summarize(delivery)
	return res, nil
}
