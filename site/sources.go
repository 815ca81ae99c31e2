package site

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
)

// The in-streams' sources are attached only while the link is up, and
// each is attached only once the hub's consumer starts right after what
// the site stored. nats-server's durable source resets the hub's consumer
// to its ack floor and takes the reply's delivered sequence as what it
// already has (server/stream.go, trySetupSourceConsumer), so a consumer
// whose ack floor is past what the site stored (a killed site's, seen in
// a chaos run) would skip the messages in between for good. The site
// therefore detaches its sources when the link goes, and at each link-up
// (the first one after a start too) it reads the hub sequence of the last
// message each stream stored, asks the hub's consumer where it stands
// (a reset to its ack floor: what the source would do anyway) and, if
// that is past the site's last + 1, resets it to last + 1 before
// attaching the source again. Nothing is delivered twice: the source
// starts after what the stream holds, and its duplicate window drops a
// message id it has.

// sourceHeader is the header nats-server puts on a sourced message:
// "<source> <origin sequence> <filter> <transform> ... <stream identity>".
const sourceHeader = "Nats-Stream-Source"

// identityHeader carries the hub stream's identity in a reset reply when
// the request carries it (nats-server 2.15, API level 5).
const identityHeader = "Nats-Stream-Identity"

// detachedSubject is the only subject an in-stream has while its source
// is detached (a stream with neither sources nor subjects is refused).
// Nothing publishes on it.
func detachedSubject(stream string) string { return "_site.detached." + stream }

// detached is cfg without its source.
func detached(cfg jetstream.StreamConfig) jetstream.StreamConfig {
	cfg.Sources = nil
	cfg.Subjects = []string{detachedSubject(cfg.Name)}
	return cfg
}

// sourcedFrom reads a sourced message's source header: its sequence in
// the hub's stream and the hub stream's identity ("" when the header has
// none). ok is false when the header is not one.
func sourcedFrom(h string) (seq uint64, identity string, ok bool) {
	f := strings.Fields(h)
	if len(f) < 2 {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || seq == 0 {
		return 0, "", false
	}
	if len(f) >= 6 {
		identity = f[5]
	}
	return seq, identity, true
}

// sourceGap decides whether the hub's consumer must be reset before the
// source is attached. last is the hub sequence of the last message the
// site stored (0: the stream never stored one), next the sequence the
// consumer delivers next (its ack floor + 1, from a reset reply); the
// identities are the hub stream's as the stored message and the reply
// give them ("" when unknown). It returns the sequence to reset to: last
// + 1, when the consumer would start past it, on the same hub stream.
func sourceGap(last uint64, storedIdentity string, next uint64, hubIdentity string) (uint64, bool) {
	if storedIdentity != "" && hubIdentity != "" && storedIdentity != hubIdentity {
		return 0, false // a re-created hub stream: its sequences are new ones
	}
	if next > last+1 {
		return last + 1, true
	}
	return 0, false
}

// lastSourced reads the hub sequence and the hub stream's identity of the
// last message stream holds. known is false when that cannot be told
// (messages stored but the last one gone or without a source header):
// the source is then attached as it is.
func (s *Site) lastSourced(ctx context.Context, stream string) (last uint64, identity string, known bool, err error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return 0, "", false, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, "", false, err
	}
	if info.State.LastSeq == 0 {
		return 0, "", true, nil
	}
	m, err := st.GetMsg(ctx, info.State.LastSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	seq, id, ok := sourcedFrom(m.Header.Get(sourceHeader))
	return seq, id, ok, nil
}

// resetReply is the part of the hub's consumer reset reply the site reads.
type resetReply struct {
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
	ResetSeq uint64 `json:"reset_seq"`
}

// resetHub resets the hub's consumer c to seq (0: to its ack floor) and
// returns the sequence it delivers next and the hub stream's identity.
func (s *Site) resetHub(ctx context.Context, c auth.SiteConsumer, seq uint64) (next uint64, identity string, err error) {
	req := nats.NewMsg(fmt.Sprintf("$JS.%s.API.CONSUMER.RESET.%s.%s", s.opts.HubDomain, c.Stream, c.Name))
	req.Header.Set(identityHeader, "?")
	if seq > 0 {
		req.Data, _ = json.Marshal(map[string]uint64{"seq": seq})
	}
	resp, err := s.nc.RequestMsgWithContext(ctx, req)
	if err != nil {
		return 0, "", fmt.Errorf("reset the hub's consumer %s: %w", c.Name, err)
	}
	var r resetReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return 0, "", fmt.Errorf("reset the hub's consumer %s: reply %q: %w", c.Name, resp.Data, err)
	}
	if r.Error != nil {
		return 0, "", fmt.Errorf("reset the hub's consumer %s: %s (%d)", c.Name, r.Error.Description, r.Error.ErrCode)
	}
	return r.ResetSeq, resp.Header.Get(identityHeader), nil
}

// attachSources attaches each in-stream's source once the hub's consumer
// starts after what the stream holds, while the link is in generation
// gen; it stops when the link changes.
func (s *Site) attachSources(gen uint64) {
	defer s.wg.Done()
	cons := map[string]auth.SiteConsumer{}
	for _, c := range auth.SiteConsumers(s.member()) {
		cons[c.Stream] = c
	}
	for _, cfg := range s.inStreams() {
		for {
			if s.ctx.Err() != nil || s.linkGen.Load() != gen {
				return
			}
			err := s.attachSource(cfg, cons[cfg.Name], gen)
			if err == nil {
				break
			}
			s.log.Warn("attach a source: retrying in a second", zap.String("stream", cfg.Name), zap.Error(err))
			s.pause(time.Second)
		}
	}
}

// attachSource resets the hub's consumer of cfg's stream if it would
// start past what the stream holds, then attaches the source.
func (s *Site) attachSource(cfg jetstream.StreamConfig, c auth.SiteConsumer, gen uint64) error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	s.srcMu.Lock()
	defer s.srcMu.Unlock()
	if s.linkGen.Load() != gen || s.attached[cfg.Name] {
		return nil
	}
	last, storedID, known, err := s.lastSourced(ctx, cfg.Name)
	if err != nil {
		return err
	}
	if known {
		next, hubID, err := s.resetHub(ctx, c, 0)
		if err != nil {
			return err
		}
		if from, gap := sourceGap(last, storedID, next, hubID); gap {
			if _, _, err := s.resetHub(ctx, c, from); err != nil {
				return err
			}
			s.log.Warn("the hub's consumer was past what the site stored; reset it to the first missing message",
				zap.String("stream", cfg.Name), zap.Uint64("from", from), zap.Uint64("was", next))
			s.gapsFilled.Add(1)
		}
	}
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("attach the source of %s: %w", cfg.Name, err)
	}
	s.attached[cfg.Name] = true
	return nil
}

// detachSources detaches every in-stream's source (the link went down).
func (s *Site) detachSources() {
	s.srcMu.Lock()
	defer s.srcMu.Unlock()
	for _, cfg := range s.inStreams() {
		if !s.attached[cfg.Name] {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		_, err := s.js.UpdateStream(ctx, detached(cfg))
		cancel()
		if err != nil {
			s.log.Error("detach a source: it stays attached; a reset past what it stored would skip", zap.String("stream", cfg.Name), zap.Error(err))
			continue
		}
		s.attached[cfg.Name] = false
	}
}

// GapsFilled is how many times the site found the hub's consumer past
// what it stored and reset it (for tests and the site's log).
func (s *Site) GapsFilled() int64 { return s.gapsFilled.Load() }
