package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// Consumer is one durable pull consumer a member reads through. Its name
// and filter are pinned by the member's permissions.
type Consumer struct {
	// Stream is the stream it reads (SECTORS, INBOX or REJECTIONS).
	Stream string
	// Name is its durable name, which starts with the member id.
	Name string
	// Filter is its single filter subject.
	Filter string
}

// Consumers lists the consumers m may use: one per sector on SECTORS, its
// inbox on INBOX and its rejections on REJECTIONS. Members with only the
// admin or service role read nothing through consumers and get none.
func Consumers(m *tocsinv1.Member) []Consumer {
	if !hasAny(m, receivers) {
		return nil
	}
	id := m.GetId()
	var out []Consumer
	for _, s := range m.GetSectors() {
		out = append(out, Consumer{subjects.StreamSectors, SectorConsumer(id, s), subjects.SectorAll(s)})
	}
	return append(out,
		Consumer{subjects.StreamInbox, InboxConsumer(id), subjects.Inbox(id)},
		Consumer{subjects.StreamRejections, RejectionsConsumer(id), subjects.Rejection(id)},
	)
}

// consumerOwners maps each SECTORS consumer name to the members whose
// permissions name it. A name with two owners would let one member pull the
// other's sector ("a" in sector "b-c" and "a-b" in sector "c" both give
// "a-b-c"), so AccountJWT refuses such a registry.
func consumerOwners(members []*tocsinv1.Member) map[string][]string {
	owners := map[string][]string{}
	for _, m := range members {
		for _, c := range Consumers(m) {
			if !slices.Contains(owners[c.Stream+"."+c.Name], m.GetId()) {
				owners[c.Stream+"."+c.Name] = append(owners[c.Stream+"."+c.Name], m.GetId())
			}
		}
	}
	return owners
}

// ConsumerMaxAckPending is how many messages a member consumer hands out
// unacknowledged at once: the agent's largest fetch.
const ConsumerMaxAckPending = 1024

// ConsumerAckWait is the AckWait of every member consumer: how soon what a
// crashed agent had pulled, or a message whose acknowledgement was lost
// with a node, comes back. The agent keeps a group in progress every
// third of it while its sinks work, so a slow sink is not redelivered.
const ConsumerAckWait = 10 * time.Second

// ConsumerConfig is the configuration of member's consumer c: a durable
// pull consumer with explicit acks, at one replica (a member's consumers
// number in the thousands across a cluster; R3 consumers cost raft groups
// that 1,000 agents cannot afford, so the agent re-creates a lost one from
// its own ack floor, see agent/DESIGN.md), starting at startSeq when it is
// above 1, else at the beginning of the stream.
func ConsumerConfig(member string, c Consumer, startSeq uint64) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Name,
		Description:   "reads " + c.Filter + " for " + member,
		FilterSubject: c.Filter,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ConsumerAckWait,
		MaxDeliver:    -1,
		MaxAckPending: ConsumerMaxAckPending,
		Replicas:      1,
	}
	if startSeq > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = startSeq
	}
	return cfg
}

// EnsureConsumers creates m's consumers (Consumers) that do not exist yet,
// with ConsumerConfig. Existing ones are left alone: an agent may have had
// one re-created from its own position. Tocsin calls it, with a service
// connection, when a member is admitted or its sectors change, before
// pushing the account JWTs that let the member read them: members cannot
// create consumers themselves. A consumer of a sector m left is not
// deleted (m can no longer use it).
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member) error {
	if err := CheckMember(m); err != nil {
		return err
	}
	for _, c := range Consumers(m) {
		_, err := js.CreateConsumer(ctx, c.Stream, ConsumerConfig(m.GetId(), c, 0))
		if err != nil && !errors.Is(err, jetstream.ErrConsumerExists) {
			return fmt.Errorf("consumer %s on %s for member %q: %w", c.Name, c.Stream, m.GetId(), err)
		}
	}
	return nil
}
