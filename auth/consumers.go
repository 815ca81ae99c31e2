package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// Consumer is one durable pull consumer a member reads through. Its name
// and filters are pinned by the member's permissions.
type Consumer struct {
	// Stream is the stream it reads (SECTORS, INBOX or REJECTIONS).
	Stream string
	// Name is its durable name, which starts with the member id.
	Name string
	// Filters are its filter subjects: every sector of the member on
	// SECTORS (one multi-filter consumer, nats-server 2.10+), the one
	// subject of its inbox or its rejections on the others.
	Filters []string
}

// Consumers lists the consumers m may use: one on SECTORS for all its
// sectors (none without sectors), its inbox on INBOX and its rejections on
// REJECTIONS. A member with a home region reads them in that region's
// stream set (docs/REGIONS.md): SECTORS-<home> filtering every region's
// copies of its sectors ("tocsin.r.*.sector.<sector>.>"), INBOX-<home>
// and REJECTIONS-<home> likewise, under the same consumer names. Members with only the admin or service role read nothing
// through consumers and get none. The agent reads the first two, so a
// member with an agent has two consumers; the third exists only once
// something reads it (docs/AGENT.md, "Two consumers per member").
func Consumers(m *tocsinv1.Member) []Consumer {
	if !hasAny(m, receivers) {
		return nil
	}
	id := m.GetId()
	stream, filter := homeCopies(m)
	var out []Consumer
	if len(m.GetSectors()) > 0 {
		f := make([]string, 0, len(m.GetSectors()))
		for _, s := range m.GetSectors() {
			f = append(f, filter(subjects.SectorAll(s)))
		}
		out = append(out, Consumer{stream(subjects.StreamSectors), SectorsConsumer(id), f})
	}
	return append(out,
		Consumer{stream(subjects.StreamInbox), InboxConsumer(id), []string{filter(subjects.Inbox(id))}},
		Consumer{stream(subjects.StreamRejections), RejectionsConsumer(id), []string{filter(subjects.Rejection(id))}},
	)
}

// consumerOwners maps each consumer name to the members whose permissions
// name it. A name with two owners would let one member pull the other's
// copies (member "a"'s site consumer "a-site-sectors" and member
// "a-site"'s "a-site-sectors"), so AccountJWT refuses such a registry.
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
// its own ack floor, see docs/AGENT.md), starting at startSeq when it is
// above 1, else at the beginning of the stream.
func ConsumerConfig(member string, c Consumer, startSeq uint64) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Name,
		Description:   consumerDescription(member, c.Filters),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ConsumerAckWait,
		MaxDeliver:    -1,
		MaxAckPending: ConsumerMaxAckPending,
		Replicas:      1,
	}
	setFilters(&cfg, c.Filters)
	if startSeq > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = startSeq
	}
	return cfg
}

// consumerDescription says what a member consumer reads and for whom. The
// per-sector consumers of earlier versions were described so too, which is
// how migration tells them from another member's consumer of the same
// name (legacySectorConsumers).
func consumerDescription(member string, filters []string) string {
	return "reads " + strings.Join(filters, " ") + " for " + member
}

// setFilters sets cfg's filter: FilterSubject for one subject (what the
// server keeps a one-element FilterSubjects as), FilterSubjects for more.
func setFilters(cfg *jetstream.ConsumerConfig, filters []string) {
	cfg.FilterSubject, cfg.FilterSubjects = "", nil
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = slices.Clone(filters)
	}
}

// filtersOf are the filter subjects of cfg, sorted.
func filtersOf(cfg jetstream.ConsumerConfig) []string {
	f := slices.Clone(cfg.FilterSubjects)
	if cfg.FilterSubject != "" {
		f = append(f, cfg.FilterSubject)
	}
	slices.Sort(f)
	return f
}

// consumerOffline is the JetStream error code of a consumer whose every
// replica is on nodes that are down ("consumer is offline").
const consumerOffline jetstream.ErrorCode = 10119

// IsConsumerOffline reports whether err says a consumer's node is gone.
func IsConsumerOffline(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == consumerOffline
}

// EnsureConsumers makes m's consumers (Consumers) exist with m's current
// filters. A missing one is created (the SECTORS consumer from where the
// per-sector consumers of an earlier version had got to, CreateConsumer);
// an existing one whose filters differ (m's sectors changed) is updated
// in place, keeping its position: a sector added is read from there on,
// a sector left is no longer delivered. Nothing else of an existing one
// changes: an agent may have had it re-created from its own position.
// Tocsin calls it, with a service connection, when a member's consumers
// are made at admission (not with lazy consumers: the agent service
// calls CreateConsumer when the agent first connects), when its sectors
// change and on `tocsin members sync`, before pushing the account JWTs
// that let the member read them: members cannot create consumers. A
// consumer whose node is gone is left to the agent, which has it
// re-created from its own ack floor.
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member) error {
	if err := CheckMember(m); err != nil {
		return err
	}
	for _, c := range Consumers(m) {
		if err := ensureConsumer(ctx, js, m, c); err != nil {
			return fmt.Errorf("consumer %s on %s for member %q: %w", c.Name, c.Stream, m.GetId(), err)
		}
	}
	return nil
}

// ensureConsumer is EnsureConsumers for one consumer c of m: a create,
// as cheap as before for a new member; an existing one is looked up only
// then.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member, c Consumer) error {
	_, _, err := CreateConsumer(ctx, js, m, c, 0)
	return err
}

// updateFilters gives an existing consumer c of m its filters when have
// (its config) has others. It also retires what is left of m's
// per-sector consumers (a migration interrupted after the create).
func updateFilters(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member, c Consumer, have jetstream.ConsumerConfig) error {
	want := slices.Sorted(slices.Values(c.Filters))
	if !slices.Equal(filtersOf(have), want) {
		setFilters(&have, c.Filters)
		have.Description = consumerDescription(m.GetId(), c.Filters)
		if _, err := js.UpdateConsumer(ctx, c.Stream, have); err != nil {
			return fmt.Errorf("update its filters to %v: %w", c.Filters, err)
		}
	}
	if c.Stream != subjects.StreamSectors {
		return nil
	}
	_, legacy, err := legacySectorConsumers(ctx, js, m)
	if err != nil {
		return err
	}
	return deleteConsumers(ctx, js, c.Stream, legacy)
}

// CreateConsumer creates consumer c of m, from startSeq (0: the stream's
// beginning), and reports the sequence it starts at. The SECTORS consumer
// replaces m's per-sector consumers of an earlier version
// ("<member>-<sector>"): when any is found it starts one past the lowest
// of their ack floors, so that nothing they had not acknowledged is lost
// (what one of them had acknowledged above that is delivered again; the
// agent's sinks drop it by message id), and they are deleted once it
// exists. A consumer that exists already keeps its position (exists
// true) and gets m's filters if it had others.
func CreateConsumer(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member, c Consumer, startSeq uint64) (start uint64, exists bool, err error) {
	var legacy []string
	if c.Stream == subjects.StreamSectors {
		var from uint64
		if from, legacy, err = legacySectorConsumers(ctx, js, m); err != nil {
			return 0, false, err
		}
		if len(legacy) > 0 {
			startSeq = from
		}
	}
	_, err = js.CreateConsumer(ctx, c.Stream, ConsumerConfig(m.GetId(), c, startSeq))
	if errors.Is(err, jetstream.ErrConsumerExists) {
		// Made earlier (m's sectors may have changed since), or another's
		// consumer of an earlier version under this name: either way it
		// gets m's filters. One whose node is gone is left to the agent.
		cons, err := js.Consumer(ctx, c.Stream, c.Name)
		if IsConsumerOffline(err) {
			return 0, true, nil
		}
		if err != nil {
			return 0, true, err
		}
		return 0, true, updateFilters(ctx, js, m, c, cons.CachedInfo().Config)
	}
	if err != nil {
		return 0, false, err
	}
	return startSeq, false, deleteConsumers(ctx, js, c.Stream, legacy)
}

// LegacySectorConsumer is the name of the consumer through which member
// read sector before one consumer read all its sectors:
// "<member>-<sector>". Only migration uses it.
func LegacySectorConsumer(member, sector string) string { return member + "-" + sector }

// legacySectorConsumers finds m's per-sector consumers of an earlier
// version and returns their names and the sequence after the lowest of
// their ack floors (1 when one acknowledged nothing). A consumer of such
// a name is m's only when its filter and description are what that
// version gave m's ("a" in sector "x-sectors" and "a-x"'s SECTORS
// consumer are both "a-x-sectors"). One whose node is gone is an error:
// its floor is unknown; try again once it is back or deleted.
func legacySectorConsumers(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member) (from uint64, names []string, err error) {
	for _, s := range m.GetSectors() {
		name := LegacySectorConsumer(m.GetId(), s)
		if name == SectorsConsumer(m.GetId()) {
			continue // sector "sectors": the old name is the new one
		}
		cons, err := js.Consumer(ctx, subjects.StreamSectors, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return 0, nil, fmt.Errorf("the per-sector consumer %s of an earlier version: %w", name, err)
		}
		info := cons.CachedInfo()
		if info.Config.FilterSubject != subjects.SectorAll(s) || info.Config.Description != consumerDescription(m.GetId(), []string{subjects.SectorAll(s)}) {
			continue
		}
		if next := info.AckFloor.Stream + 1; len(names) == 0 || next < from {
			from = next
		}
		names = append(names, name)
	}
	return from, names, nil
}

// deleteConsumers deletes the named consumers of stream; one already gone
// is fine.
func deleteConsumers(ctx context.Context, js jetstream.JetStream, stream string, names []string) error {
	for _, n := range names {
		if err := js.DeleteConsumer(ctx, stream, n); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("delete the per-sector consumer %s of an earlier version: %w", n, err)
		}
	}
	return nil
}
