package site

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
)

// relayTimeout bounds the hub's answer to a relayed request.
const relayTimeout = 3 * time.Second

// relayCache keeps the last answer of each relayed request (subject and
// body), served while the hub is unreachable.
type relayCache struct {
	mu      sync.Mutex
	answers map[string]*nats.Msg
}

// serveRelays answers, at the site, the member services a site relays
// (auth.SiteRelays: the directory, the regional board): each request is
// asked of the hub when the link is up and the answer kept; while the hub
// is away the last answer to the same request is given, marked with the
// header Tocsin-Site-Cached (the time it was kept). Without one, the
// request gets no answer (the caller times out as at an unreachable hub).
func (s *Site) serveRelays() error {
	cache := &relayCache{answers: map[string]*nats.Msg{}}
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
