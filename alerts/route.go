package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// destinations are where a routed message goes.
type destinations struct {
	sectors []string // sector subjects, for CLEAR, GREEN, AMBER
	inboxes []string // member inboxes: named recipients not reached by a sector
}

func (r *Router) checkLane(l tocsinv1.Lane) (string, error) {
	name := records.LaneName(l)
	if l == tocsinv1.Lane_LANE_UNSPECIFIED || !r.lanes[name] {
		return "", refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_LANE, "lane %q is not known; use one of %s", name, strings.Join(r.opts.Vocabulary.Lanes, ", "))
	}
	return name, nil
}

func (r *Router) checkSectors(sectors []string) error {
	for _, s := range sectors {
		if !r.sectors[s] {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_SECTOR, "%v", r.opts.Vocabulary.CheckSector(s))
		}
	}
	return nil
}

func (r *Router) checkRecipients(ctx context.Context, ids []string) error {
	for _, id := range ids {
		m, err := r.d.Registry.Member(ctx, id)
		if errors.Is(err, members.ErrNotFound) || (err == nil && m.GetRevokedAt() != nil) {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_RECIPIENT, "recipient %q is not a member; check the id with 'tocsin members list'", id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// destinationsFor applies TLP: CLEAR and GREEN go to the named sectors (all
// when none), AMBER to the named sectors, and named recipients that no
// sector reaches get a direct copy; AMBER+STRICT and RED go only to the
// named recipients' inboxes, never to a sector subject.
func (r *Router) destinationsFor(ctx context.Context, level tlp.Level, sectors, recipients []string) destinations {
	var d destinations
	if !level.AllowsSectorSubjects() {
		d.inboxes = dedup(recipients)
		return d
	}
	d.sectors = dedup(sectors)
	if len(d.sectors) == 0 && level <= tlp.Green {
		d.sectors = slices.Clone(r.opts.Vocabulary.Sectors)
	}
	for _, id := range dedup(recipients) {
		m, err := r.d.Registry.Member(ctx, id)
		if err == nil && overlaps(m.GetSectors(), d.sectors) {
			continue
		}
		d.inboxes = append(d.inboxes, id)
	}
	return d
}

// organisations counts the distinct active members that receive d.
func (r *Router) organisations(d destinations) []string {
	if len(d.inboxes) == 0 {
		return r.d.Registry.IDsInSectors(d.sectors) // sorted, each once
	}
	seen := map[string]bool{}
	for _, id := range r.d.Registry.IDsInSectors(d.sectors) {
		seen[id] = true
	}
	for _, id := range d.inboxes {
		seen[id] = true
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// validateBundle runs the STIX validator; problems become one rejection.
func (r *Router) validateBundle(bundle []byte) (*stix.Result, error) {
	if r.d.Validator == nil {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_SCHEMAS_MISSING,
			"this node was built without the STIX schemas and cannot validate alerts; the operator must run 'make build' and redeploy")
	}
	res, err := r.d.Validator.ValidateBundle(bundle)
	if err != nil {
		return nil, err
	}
	if !res.Valid() {
		return nil, reject{stix.Refusal(res.Problems)}
	}
	return res, nil
}

// sendCopies publishes the copies of a message whose outcome is recorded
// (publishCopies) and logs it routed.
func (r *Router) sendCopies(ctx context.Context, data []byte, env *tocsinv1.Envelope, kind, lane string, level tlp.Level, d destinations) error {
	if err := r.publishCopies(ctx, data, env.GetId(), kind, lane, level, d); err != nil {
		return err
	}
	r.log.Info("routed", zap.String("id", env.GetId()), zap.String("sender", env.GetSender()), zap.Strings("sectors", d.sectors),
		zap.Strings("inboxes", d.inboxes), zap.Stringer("tlp", level))
	return nil
}

// publishCopies publishes the original signed envelope to every
// destination, each copy with its own message id "<id>:<destination>",
// and waits until every copy is acknowledged.
func (r *Router) publishCopies(ctx context.Context, data []byte, id, kind, lane string, level tlp.Level, d destinations) error {
	var futures []jetstream.PubAckFuture
	for _, msg := range copyMsgs(r.opts.Region, data, id, kind, lane, level, d) {
		f, err := r.d.JS.PublishMsgAsync(msg)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		// A PubAck lost with a node fails here after the JetStream
		// context's async timeout (broker.JetStream); the copies are sent
		// again under the same message ids on the redelivery
		// (resendCopies).
		if err := jsctx.AwaitPubAck(ctx, f); err != nil {
			return fmt.Errorf("routed copy of %s to %s: %w", id, f.Msg().Subject, err)
		}
	}
	return nil
}

// copyMsgs are the routed copies of data to every destination of d, each
// with its own message id "<id>:<destination>" and the kind and TLP
// headers, on region's subjects (subjects.InRegion).
func copyMsgs(region string, data []byte, id, kind, lane string, level tlp.Level, d destinations) []*nats.Msg {
	var out []*nats.Msg
	add := func(subject, dest string) {
		msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, subjects.RoutedMsgID(id, dest))
		msg.Header.Set(records.HeaderKind, kind)
		msg.Header.Set(records.HeaderTLP, level.String())
		out = append(out, msg)
	}
	for _, s := range d.sectors {
		add(subjects.InRegion(region, subjects.Sector(s, lane)), s)
	}
	for _, to := range d.inboxes {
		add(subjects.InRegion(region, subjects.Inbox(to)), "inbox."+to)
	}
	return out
}

// checkCopiesFit refuses, as oversized, a message whose routed copies (its
// bytes with the routing headers) would not fit in the cluster's max
// payload: the router records a message routed before it sends the copies,
// so it must know they fit first.
func (r *Router) checkCopiesFit(data []byte, id, kind, lane string, level tlp.Level, d destinations) error {
	limit := r.d.JS.Conn().MaxPayload()
	for _, msg := range copyMsgs(r.opts.Region, data, id, kind, lane, level, d) {
		if int64(msg.Size()) > limit {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_OVERSIZED,
				"its routed copy to %s would be %d bytes with the routing headers, over the cluster's max payload of %d: send it smaller (split the bundle into several alerts)", msg.Subject, msg.Size(), limit)
		}
	}
	return nil
}

func dedup(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
