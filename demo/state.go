package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// What the checks read from the cluster's own streams and buckets, with
// the service connection.

// reach reads member's receipts for message id from the REACH bucket.
func (c *cluster) reach(ctx context.Context, id, member string) (records.Reach, error) {
	var r records.Reach
	kv, err := c.js.KeyValue(ctx, records.BucketReach)
	if err != nil {
		return r, err
	}
	r, _, err = records.ReceiptOf(ctx, kv, id, member)
	return r, err
}

// sightings is how many organisations of sector other than the originator
// have seen the indicator (the router's index in ROUTED, the sets in SIGHTINGS).
func (c *cluster) sightings(ctx context.Context, indicator, sector string) (int, error) {
	return alerts.SightingCount(ctx, c.js, indicator, sector)
}

// lastRejection is the last signed rejection sent to member.
func (c *cluster) lastRejection(ctx context.Context, member string) (*tocsinv1.Rejection, error) {
	m, err := settle(ctx, func() (*jetstream.RawStreamMsg, error) {
		s, err := c.js.Stream(ctx, subjects.StreamRejections)
		if err != nil {
			return nil, err
		}
		return s.GetLastMsgForSubject(ctx, subjects.Rejection(member))
	})
	if err != nil {
		return nil, fmt.Errorf("no rejection for %s in %s: %w", member, subjects.StreamRejections, err)
	}
	env, err := envelope.Decode(m.Data, 0)
	if err != nil {
		return nil, err
	}
	var rej tocsinv1.Rejection
	return &rej, proto.Unmarshal(env.GetPayload(), &rej)
}

// ingested counts the messages in INGEST by subject.
func (c *cluster) ingested(ctx context.Context) (map[string]uint64, error) {
	return settle(ctx, func() (map[string]uint64, error) {
		s, err := c.js.Stream(ctx, subjects.StreamIngest)
		if err != nil {
			return nil, err
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(subjects.Prefix+".ingest.>"))
		if err != nil {
			return nil, err
		}
		return info.State.Subjects, nil
	})
}

// routedCopy is one routed copy of a message: its stream subject and id.
type routedCopy struct {
	subject string
	id      string
	kind    tocsinv1.Kind
}

// copies reads, by sequence, every message of stream whose subject one of
// filters ("a.b" or "a.>") matches.
func (c *cluster) copies(ctx context.Context, stream string, filters ...string) ([]routedCopy, error) {
	return settle(ctx, func() ([]routedCopy, error) {
		s, err := c.js.Stream(ctx, stream)
		if err != nil {
			return nil, err
		}
		st := s.CachedInfo().State
		var out []routedCopy
		for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read %s #%d: %w", stream, seq, err)
			}
			if !slices.ContainsFunc(filters, func(f string) bool { return matches(f, m.Subject) }) {
				continue
			}
			env, err := envelope.Decode(m.Data, 0)
			if err != nil {
				return nil, fmt.Errorf("%s #%d is not an envelope: %w", stream, seq, err)
			}
			out = append(out, routedCopy{subject: m.Subject, id: env.GetId(), kind: env.GetKind()})
		}
		return out, nil
	})
}

// matches reports whether subject matches filter, an exact subject or a
// prefix ending in ">".
func matches(filter, subject string) bool {
	if prefix, ok := strings.CutSuffix(filter, ">"); ok {
		return strings.HasPrefix(subject, prefix)
	}
	return filter == subject
}

// routedTo returns the ids routed to member: the copies on its sectors'
// subjects and in its inbox, each once. The router's echoes of the
// member's own acknowledgements (receipts in its inbox) are not records:
// the agent settles its pages with them and writes nothing.
func (c *cluster) routedTo(ctx context.Context, m *tocsinv1.Member) (map[string]bool, error) {
	ids := map[string]bool{}
	var filters []string
	for _, s := range m.GetSectors() {
		filters = append(filters, subjects.SectorAll(s))
	}
	for stream, fs := range map[string][]string{subjects.StreamSectors: filters, subjects.StreamInbox: {subjects.Inbox(m.GetId())}} {
		if len(fs) == 0 {
			continue
		}
		cs, err := c.copies(ctx, stream, fs...)
		if err != nil {
			return nil, err
		}
		for _, cp := range cs {
			if cp.kind != tocsinv1.Kind_KIND_RECEIPT {
				ids[cp.id] = true
			}
		}
	}
	return ids, nil
}

// destinations are the subjects routed copies of id went to.
func (c *cluster) destinations(ctx context.Context, id string) ([]string, error) {
	var out []string
	for _, stream := range []string{subjects.StreamSectors, subjects.StreamInbox} {
		cs, err := c.copies(ctx, stream, subjects.Prefix+".>")
		if err != nil {
			return nil, err
		}
		for _, cp := range cs {
			if cp.id == id {
				out = append(out, cp.subject)
			}
		}
	}
	return out, nil
}

// reading reports the consumers of members' agents that are not being
// read: missing, without a leader, or without a waiting pull.
func (c *cluster) reading(ctx context.Context, ms []*tocsinv1.Member) ([]string, error) {
	var idle []string
	for _, m := range ms {
		for _, cs := range agentConsumers(m) {
			info, err := c.consumerInfo(ctx, cs)
			if err != nil || info.NumWaiting == 0 || info.Cluster == nil || info.Cluster.Leader == "" {
				idle = append(idle, cs.Name)
			}
		}
	}
	return idle, ctx.Err()
}

// consumersOn lists the consumers of members' agents whose leader is node.
func (c *cluster) consumersOn(ctx context.Context, ms []*tocsinv1.Member, node string) ([]string, error) {
	return settle(ctx, func() ([]string, error) {
		var on []string
		for _, m := range ms {
			for _, cs := range agentConsumers(m) {
				info, err := c.consumerInfo(ctx, cs)
				if err != nil {
					return nil, err
				}
				if info.Cluster != nil && info.Cluster.Leader == node {
					on = append(on, cs.Name)
				}
			}
		}
		return on, nil
	})
}

func (c *cluster) consumerInfo(ctx context.Context, cs auth.Consumer) (*jetstream.ConsumerInfo, error) {
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cons, err := c.js.Consumer(ictx, cs.Stream, cs.Name)
	if err != nil {
		return nil, err
	}
	return cons.CachedInfo(), nil
}

// agentConsumers are the consumers an agent reads: its sectors and inbox.
func agentConsumers(m *tocsinv1.Member) []auth.Consumer {
	var out []auth.Consumer
	for _, cs := range auth.Consumers(m) {
		if cs.Stream != subjects.StreamRejections {
			out = append(out, cs)
		}
	}
	return out
}
