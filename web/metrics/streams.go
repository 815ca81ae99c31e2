package metrics

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Streams reads every named stream's state, and the state of its durable
// consumers, from JetStream at each scrape.
type Streams struct {
	// JS is a JetStream context with the right to read stream and consumer
	// info (the node's service connection).
	JS jetstream.JetStream
	// Names are the streams to read (broker.StreamNames(), KV_ buckets
	// included).
	Names []string
}

// Collect implements Collector.
func (s *Streams) Collect(ctx context.Context) []Family {
	msgs := Family{Name: "tocsin_stream_messages", Help: "Messages in the stream.", Type: Gauge}
	bytes := Family{Name: "tocsin_stream_bytes", Help: "Bytes in the stream.", Type: Gauge}
	lag := Family{Name: "tocsin_stream_replica_lag", Help: "Operations the most lagging replica is behind the leader.", Type: Gauge}
	offline := Family{Name: "tocsin_stream_replicas_offline", Help: "Replicas of the stream that are offline.", Type: Gauge}
	leader := Family{Name: "tocsin_stream_has_leader", Help: "1 when the stream has a leader, else 0.", Type: Gauge}
	pending := Family{Name: "tocsin_consumer_pending", Help: "Messages of the stream the durable consumer has not been delivered yet (its lag).", Type: Gauge}
	ackPending := Family{Name: "tocsin_consumer_ack_pending", Help: "Messages delivered to the consumer and not yet acknowledged.", Type: Gauge}
	redelivered := Family{Name: "tocsin_consumer_redelivered", Help: "Messages delivered to the consumer more than once and not yet acknowledged.", Type: Gauge}
	waiting := Family{Name: "tocsin_consumer_waiting_pulls", Help: "Pull requests waiting on the consumer.", Type: Gauge}
	up := Family{Name: "tocsin_stream_scrape_ok", Help: "1 when the stream's info could be read at this scrape.", Type: Gauge}
	for _, name := range s.Names {
		l := []string{"stream", name}
		st, err := s.JS.Stream(ctx, name)
		if err != nil {
			up.Samples = append(up.Samples, Sample{Labels: l, Value: 0})
			continue
		}
		up.Samples = append(up.Samples, Sample{Labels: l, Value: 1})
		info := st.CachedInfo()
		msgs.Samples = append(msgs.Samples, Sample{Labels: l, Value: float64(info.State.Msgs)})
		bytes.Samples = append(bytes.Samples, Sample{Labels: l, Value: float64(info.State.Bytes)})
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
		lag.Samples = append(lag.Samples, Sample{Labels: l, Value: float64(maxLag)})
		offline.Samples = append(offline.Samples, Sample{Labels: l, Value: off})
		leader.Samples = append(leader.Samples, Sample{Labels: l, Value: hasLeader})
		if strings.HasPrefix(name, "KV_") {
			continue // bucket watchers are ephemeral
		}
		consumers := st.ListConsumers(ctx)
		seen := map[string]bool{}
		for ci := range consumers.Info() {
			// Listing pages by offset: a consumer made or deleted meanwhile
			// can shift one into the next page too.
			if ci.Config.Durable == "" || seen[ci.Name] {
				continue // ordered and other ephemeral readers
			}
			seen[ci.Name] = true
			cl := []string{"stream", name, "consumer", ci.Name}
			pending.Samples = append(pending.Samples, Sample{Labels: cl, Value: float64(ci.NumPending)})
			ackPending.Samples = append(ackPending.Samples, Sample{Labels: cl, Value: float64(ci.NumAckPending)})
			redelivered.Samples = append(redelivered.Samples, Sample{Labels: cl, Value: float64(ci.NumRedelivered)})
			waiting.Samples = append(waiting.Samples, Sample{Labels: cl, Value: float64(ci.NumWaiting)})
		}
	}
	return []Family{msgs, bytes, lag, offline, leader, pending, ackPending, redelivered, waiting, up}
}
