package site

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/records"
)

// relayTimeout bounds the hub's answer to a relayed request.
const relayTimeout = 3 * time.Second

// relayCache keeps the last answer of each relayed request (subject and
// body), served while the hub is unreachable.
type relayCache struct {
	mu      sync.Mutex
	answers map[string]*nats.Msg
	// directory is when the whole directory was last fetched (prefetch),
	// tried when that was last attempted.
	directory, tried time.Time
}

// directoryEvery is how often a linked site fetches the whole directory
// again, so that an agent started during a cut verifies with a recent one.
const directoryEvery = 10 * time.Minute

// prefetchDirectory fetches every page of the public directory through
// the relay (which keeps them) when the link is up and the copy is older
// than directoryEvery: an agent started during a cut, with no copy of its
// own yet, gets it from the site.
func (s *Site) prefetchDirectory() {
	if up, _ := s.Link(); !up {
		return
	}
	s.relays.mu.Lock()
	skip := time.Since(s.relays.directory) < directoryEvery || time.Since(s.relays.tried) < 5*time.Second
	if !skip {
		s.relays.tried = time.Now()
	}
	s.relays.mu.Unlock()
	if skip {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if _, err := records.FetchDirectory(ctx, s.nc); err != nil {
		s.log.Debug("prefetch of the member directory", zap.Error(err))
		return
	}
	s.relays.mu.Lock()
	s.relays.directory = time.Now()
	s.relays.mu.Unlock()
}

// directoryFetched is when the site last fetched the whole directory.
func (s *Site) directoryFetched() time.Time {
	s.relays.mu.Lock()
	defer s.relays.mu.Unlock()
	return s.relays.directory
}

// serveRelays answers, at the site, the member services a site relays
// (auth.SiteRelays: the directory, the regional board): each request is
// asked of the hub when the link is up and the answer kept; while the hub
// is away the last answer to the same request is given, marked with the
// header Tocsin-Site-Cached (the time it was kept). Without one, the
// request gets no answer (the caller times out as at an unreachable hub).
func (s *Site) serveRelays() error {
	cache := &relayCache{answers: map[string]*nats.Msg{}}
	s.relays = cache
	for _, r := range auth.SiteRelays(s.id.member) {
		if _, err := s.nc.Subscribe(r.Local, func(m *nats.Msg) { s.relay(cache, r, m) }); err != nil {
			return err
		}
	}
	return nil
}

// HeaderCached marks an answer the site gave from its cache, with the
// time the hub gave it (RFC 3339).
const HeaderCached = "Tocsin-Site-Cached"

func (s *Site) relay(cache *relayCache, r auth.SiteRelay, m *nats.Msg) {
	key := m.Subject + "\x00" + string(m.Data)
	if up, _ := s.Link(); up {
		ctx, cancel := context.WithTimeout(s.ctx, relayTimeout)
		ans, err := s.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: r.Forward, Data: m.Data, Header: m.Header})
		cancel()
		if err == nil {
			kept := nats.NewMsg("")
			kept.Data, kept.Header = ans.Data, nats.Header{}
			for k, v := range ans.Header {
				kept.Header[k] = v
			}
			kept.Header.Set(HeaderCached, time.Now().UTC().Format(time.RFC3339))
			cache.mu.Lock()
			cache.answers[key] = kept
			cache.mu.Unlock()
			s.respond(m, ans.Data, ans.Header)
			return
		}
		s.log.Debug("relay: the hub did not answer; answering from the cache", zap.String("subject", m.Subject), zap.Error(err))
	}
	cache.mu.Lock()
	kept := cache.answers[key]
	cache.mu.Unlock()
	if kept != nil {
		s.respond(m, kept.Data, kept.Header)
	}
}

func (s *Site) respond(m *nats.Msg, data []byte, h nats.Header) {
	reply := nats.NewMsg(m.Reply)
	reply.Data = data
	for k, v := range h {
		reply.Header[k] = v
	}
	_ = m.RespondMsg(reply)
}
