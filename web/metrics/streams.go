package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Streams reads every named stream's state, and the state of its durable
// consumers, from JetStream at each scrape: a prometheus.Collector. The
// services' consumers (on INGEST) have a series each; the members'
// consumers (on SECTORS, INBOX and REJECTIONS: two or three per member,
// tens of thousands at 10,000 members) are summed per stream and sector
// (memberConsumers); a scrape with ?member=<id> has one member's
// (WithMember).
type Streams struct {
	// JS is a JetStream context with the right to read stream and consumer
	// info (the node's service connection).
	JS jetstream.JetStream
	// Names are the streams to read (broker.StreamNames(), KV_ buckets
	// included).
	Names []string
	// Timeout bounds the reads of one scrape. Default 5s.
	Timeout time.Duration
}

func streamDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"stream"}, nil)
}

func consumerDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"stream", "consumer"}, nil)
}

var (
	streamMessages  = streamDesc("tocsin_stream_messages", "Messages in the stream.")
	streamBytes     = streamDesc("tocsin_stream_bytes", "Bytes in the stream.")
	streamLag       = streamDesc("tocsin_stream_replica_lag", "Operations the most lagging replica is behind the leader.")
	streamOffline   = streamDesc("tocsin_stream_replicas_offline", "Replicas of the stream that are offline.")
	streamLeader    = streamDesc("tocsin_stream_has_leader", "1 when the stream has a leader, else 0.")
	streamUp        = streamDesc("tocsin_stream_scrape_ok", "1 when the stream's info could be read at this scrape.")
	consumerPending = consumerDesc("tocsin_consumer_pending", "Messages of the stream the durable consumer has not been delivered yet (its lag).")
	consumerAck     = consumerDesc("tocsin_consumer_ack_pending", "Messages delivered to the consumer and not yet acknowledged.")
	consumerRedeliv = consumerDesc("tocsin_consumer_redelivered", "Messages delivered to the consumer more than once and not yet acknowledged.")
	consumerWaiting = consumerDesc("tocsin_consumer_waiting_pulls", "Pull requests waiting on the consumer.")
)

// Describe implements prometheus.Collector.
func (s *Streams) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{streamMessages, streamBytes, streamLag, streamOffline, streamLeader, streamUp,
		consumerPending, consumerAck, consumerRedeliv, consumerWaiting,
		memberConsumers, memberPending, memberPendingMax, memberAck, memberRedeliv, memberWaiting} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the streams.
func (s *Streams) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel, gauge := scrape(s.Timeout, ch)
	defer cancel()
	for _, name := range s.Names {
		st, err := s.JS.Stream(ctx, name)
		if err != nil {
			gauge(streamUp, 0, name)
			continue
		}
		gauge(streamUp, 1, name)
		info := st.CachedInfo()
		gauge(streamMessages, float64(info.State.Msgs), name)
		gauge(streamBytes, float64(info.State.Bytes), name)
		var maxLag uint64
		var off float64
		hasLeader := 1.0
		if c := info.Cluster; c != nil {
			if c.Leader == "" {
				hasLeader = 0
			}
			for _, r := range c.Replicas {
				maxLag = max(maxLag, r.Lag)
				if r.Offline {
					off++
				}
			}
		}
		gauge(streamLag, float64(maxLag), name)
		gauge(streamOffline, off, name)
		gauge(streamLeader, hasLeader, name)
		if strings.HasPrefix(name, "KV_") {
			continue // bucket watchers are ephemeral
		}
		consumers := st.ListConsumers(ctx)
		seen := map[string]bool{}
		sums := memberSums{}
		for ci := range consumers.Info() {
			// Listing pages by offset: a consumer made or deleted meanwhile
			// can shift one into the next page too.
			if ci.Config.Durable == "" || seen[ci.Name] {
				continue // ordered and other ephemeral readers
			}
			seen[ci.Name] = true
			if isMemberStream(name) {
				sums.add(ci)
				continue
			}
			consumerGauges(gauge, name, ci)
		}
		sums.collect(gauge, name)
	}
}

// scrape is a scrape's context, bounded by timeout (0: 5s), and the
// function that sends a gauge to ch.
func scrape(timeout time.Duration, ch chan<- prometheus.Metric) (context.Context, context.CancelFunc, func(*prometheus.Desc, float64, ...string)) {
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return ctx, cancel, func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
}

// consumerGauges are one consumer's series.
func consumerGauges(gauge func(*prometheus.Desc, float64, ...string), stream string, ci *jetstream.ConsumerInfo) {
	gauge(consumerPending, float64(ci.NumPending), stream, ci.Name)
	gauge(consumerAck, float64(ci.NumAckPending), stream, ci.Name)
	gauge(consumerRedeliv, float64(ci.NumRedelivered), stream, ci.Name)
	gauge(consumerWaiting, float64(ci.NumWaiting), stream, ci.Name)
}
