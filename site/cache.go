package site

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamCache is the site's copy of what it relayed from the hub (the
// directory's pages, the board) and of the member's last status report
// forwarded: on disk, so that a site restarted during a cut still answers.
const StreamCache = "SITE_CACHE"

// cachePrefix starts the cache's subjects: local to the site (the site
// credential may not publish them at the hub, so they never cross the link).
const cachePrefix = "_tocsin_site.cache."

// cacheForwardedStatus keeps the member's last status report the site
// forwarded, shown on the site's board until the hub's board has it.
const cacheForwardedStatus = cachePrefix + "forwarded.status"

// cacheBytes caps the cache (one message a request; a directory page is
// at most records.MaxDirectoryPage).
const cacheBytes = 64 << 20

func (s *Site) cacheConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              StreamCache,
		Description:       "the hub's last answers relayed by the site, served during a cut",
		Subjects:          []string{cachePrefix + ">"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxBytes:          cacheBytes,
		MaxAge:            s.opts.Keep,
		Storage:           jetstream.FileStorage,
		Replicas:          1,
	}
}

// ensureCache creates or updates the cache stream.
func (s *Site) ensureCache(ctx context.Context) error {
	if _, err := s.js.CreateOrUpdateStream(ctx, s.cacheConfig()); err != nil {
		return fmt.Errorf("site stream %s: %w", StreamCache, err)
	}
	return nil
}

// cacheSubject is where the answer to a request on subject with body is
// kept.
func cacheSubject(subject string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write(body)
	return cachePrefix + "relay." + hex.EncodeToString(h.Sum(nil)[:16])
}

// keep stores data with its headers (and HeaderCached, the time now) on
// the cache subject, replacing what was there.
func (s *Site) keep(ctx context.Context, subject string, data []byte, h nats.Header) error {
	m := nats.NewMsg(subject)
	m.Data = data
	for k, v := range h {
		m.Header[k] = v
	}
	m.Header.Set(HeaderCached, time.Now().UTC().Format(time.RFC3339Nano))
	_, err := s.js.PublishMsg(ctx, m)
	return err
}

// cached is what is kept on subject, with the time it was kept; nil when
// nothing is.
func (s *Site) cached(ctx context.Context, subject string) (*nats.Msg, time.Time, error) {
	st, err := s.js.Stream(ctx, StreamCache)
	if err != nil {
		return nil, time.Time{}, err
	}
	raw, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	m := nats.NewMsg(raw.Subject)
	m.Data, m.Header = raw.Data, raw.Header
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	at, err := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderCached))
	if err != nil {
		at = raw.Time
	}
	return m, at, nil
}
