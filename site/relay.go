package site

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/mutualaid"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// relayTimeout bounds the hub's answer to a relayed request.
const relayTimeout = 3 * time.Second

// HeaderCached marks an answer the site gave from its cache, with the
// time the hub gave it (RFC 3339).
const HeaderCached = "Tocsin-Site-Cached"

// prefetches are the requests a linked site asks itself (through its
// relay, which keeps the answers), so that it has them during a cut even
// if no one asked: the whole directory (an agent started during a cut,
// with no copy of its own, verifies with it) and the member's own board.
type prefetches struct {
	mu sync.Mutex
	// tried is when each was last attempted.
	directoryTried, boardTried time.Time
}

// directoryEvery is how often a linked site fetches the whole directory
// again; boardEvery the member's board.
const (
	directoryEvery = 10 * time.Minute
	boardEvery     = time.Minute
	retryEvery     = 5 * time.Second
)

// prefetch fetches the directory and the member's board through the relay
// when the link is up and the copy is older than directoryEvery and
// boardEvery.
func (s *Site) prefetch() {
	if up, _ := s.Link(); !up {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	now := time.Now()
	p := &s.pre
	p.mu.Lock()
	dir := now.Sub(s.directoryFetched(ctx)) > directoryEvery && now.Sub(p.directoryTried) > retryEvery
	if dir {
		p.directoryTried = now
	}
	board := now.Sub(s.boardKept(ctx)) > boardEvery && now.Sub(p.boardTried) > retryEvery
	if board {
		p.boardTried = now
	}
	p.mu.Unlock()
	if dir {
		if _, err := records.FetchDirectory(ctx, s.nc); err != nil {
			s.log.Debug("prefetch of the member directory", zap.Error(err))
		}
	}
	if board {
		var b mutualaid.Board
		if err := mutualaid.Ask(ctx, s.nc, subjects.SvcSituation(s.id.member), mutualaid.SituationQuery{}, &b); err != nil {
			s.log.Debug("prefetch of the member's board", zap.Error(err))
		}
	}
}

// serveRelays answers, at the site, the member services a site relays
// (auth.SiteRelays: the directory, the regional board): each request is
// asked of the hub when the link is up and the answer kept in StreamCache;
// while the hub is away the last answer to the same request is given,
// marked with the header HeaderCached (when the hub gave it), kept across
// restarts of the site. Without one, the request gets no answer (the
// caller times out as at an unreachable hub). Board answers show the
// member's own status report the hub's board does not have yet
// (overlayBoard).
func (s *Site) serveRelays() error {
	for _, r := range auth.SiteRelays(s.id.member) {
		if _, err := s.nc.Subscribe(r.Local, func(m *nats.Msg) { s.relay(r, m) }); err != nil {
			return err
		}
	}
	return nil
}

func (s *Site) relay(r auth.SiteRelay, m *nats.Msg) {
	key := cacheSubject(m.Subject, m.Data)
	board := m.Subject == subjects.SvcSituation(s.id.member)
	if up, _ := s.Link(); up {
		ctx, cancel := context.WithTimeout(s.ctx, relayTimeout)
		ans, err := s.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: r.Forward, Data: m.Data, Header: m.Header})
		cancel()
		if err == nil {
			data := ans.Data
			if board {
				data = s.overlayBoard(s.ctx, data, time.Time{})
			}
			s.respond(m, data, ans.Header)
			ctx, cancel := context.WithTimeout(s.ctx, relayTimeout)
			defer cancel()
			if err := s.keep(ctx, key, ans.Data, ans.Header); err != nil {
				s.log.Warn("relay: keeping the hub's answer", zap.String("subject", m.Subject), zap.Error(err))
			}
			return
		}
		s.log.Debug("relay: the hub did not answer; answering from the cache", zap.String("subject", m.Subject), zap.Error(err))
	}
	ctx, cancel := context.WithTimeout(s.ctx, relayTimeout)
	defer cancel()
	kept, at, err := s.cached(ctx, key)
	if err != nil {
		s.log.Warn("relay: reading the site's cache", zap.String("subject", m.Subject), zap.Error(err))
		return
	}
	if kept == nil {
		return
	}
	data := kept.Data
	if board {
		data = s.overlayBoard(ctx, data, at)
	}
	s.respond(m, data, kept.Header)
}

func (s *Site) respond(m *nats.Msg, data []byte, h nats.Header) {
	reply := nats.NewMsg(m.Reply)
	reply.Data = data
	for k, v := range h {
		reply.Header[k] = v
	}
	_ = m.RespondMsg(reply)
}
