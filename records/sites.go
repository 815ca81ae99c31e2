package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketSites keeps each member site's link to the hub: key = member id,
// value = a SiteContact (JSON), written by the hub node the site's leaf
// link is on (package sitewatch). No TTL: a site's last contact outlives
// its link and the node's restarts.
const BucketSites = "SITES"

// SiteContact is what the hub knows of a member site's link.
type SiteContact struct {
	// Member is the site's member (the account its leaf link is in).
	Member string `json:"member"`
	// Site is the site's server name (site-<member>-<random>).
	Site string `json:"site"`
	// Node is the hub node the link is (or was last) on.
	Node string `json:"node"`
	// Transport is "tcp" or "websocket".
	Transport string `json:"transport"`
	// Up says the link is up; see Seen.
	Up bool `json:"up"`
	// UpSince is when the hub saw the link come up.
	UpSince time.Time `json:"up_since,omitzero"`
	// DownSince is when the hub saw it go down (zero while up).
	DownSince time.Time `json:"down_since,omitzero"`
	// LastContact is the last time a hub node saw the link open.
	LastContact time.Time `json:"last_contact"`
	// FreshUntil is when an up record goes stale without a newer write
	// (the node that had the link stopped without marking it down).
	FreshUntil time.Time `json:"fresh_until,omitzero"`
	// RTT is the link's round trip as the hub last measured it.
	RTT string `json:"rtt,omitempty"`
	// SourceLag is how many messages the hub's site consumers of the
	// member hold that the site has not acknowledged yet (pending and
	// unacknowledged, summed), as the node last read them.
	SourceLag uint64 `json:"source_lag"`
	// OutboxBacklog is how many messages the site's outbox held behind
	// the last one it forwarded (that message's SiteBacklogHeader),
	// OutboxBacklogAt when the hub stored that one (zero: the site has
	// forwarded nothing the hub still holds).
	OutboxBacklog   uint64    `json:"outbox_backlog"`
	OutboxBacklogAt time.Time `json:"outbox_backlog_at,omitzero"`
	// OutboxFill is the share of its cap the site's outbox used when the
	// site forwarded that message (its SiteOutboxFillHeader; 0 from a site
	// that does not say), OutboxAlarm the share at which the site warns
	// that it is filling (SiteOutboxAlarmHeader): past the cap the site
	// refuses what its member sends.
	OutboxFill  float64 `json:"outbox_fill,omitempty"`
	OutboxAlarm float64 `json:"outbox_alarm,omitempty"`
}

// SiteBacklogHeader is set by a site on each message it forwards: how
// many messages its outbox holds behind this one.
const SiteBacklogHeader = "Tocsin-Site-Backlog"

// SiteOutboxFillHeader and SiteOutboxAlarmHeader are set by a site on
// each message it forwards: the share of its outbox's cap in use (as of
// the site's last look, at most a second before) and the share at which
// it warns, each a decimal fraction ("0.125", "0.8").
const (
	SiteOutboxFillHeader  = "Tocsin-Site-Outbox-Fill"
	SiteOutboxAlarmHeader = "Tocsin-Site-Outbox-Alarm"
)

// Seen is c as a reader should take it at now: an up record past
// FreshUntil is down since its last contact.
func (c SiteContact) Seen(now time.Time) SiteContact {
	if c.Up && !c.FreshUntil.IsZero() && now.After(c.FreshUntil) {
		c.Up, c.DownSince = false, c.LastContact
	}
	return c
}

// ReadSite reads member's site record from the SITES bucket kv, as Seen
// at now; ok is false when the member has no site on record.
func ReadSite(ctx context.Context, kv jetstream.KeyValue, member string, now time.Time) (c SiteContact, ok bool, err error) {
	e, err := kv.Get(ctx, member)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return SiteContact{}, false, nil
	}
	if err != nil {
		return SiteContact{}, false, fmt.Errorf("read the site record of %s: %w", member, err)
	}
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return SiteContact{}, false, fmt.Errorf("read the site record of %s: %w", member, err)
	}
	return c.Seen(now), true, nil
}

// ListSites reads every site record of the SITES bucket kv, as Seen at
// now, by member id: for operators and liaisons only.
func ListSites(ctx context.Context, kv jetstream.KeyValue, now time.Time) ([]SiteContact, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list the site records: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []SiteContact
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("list the site records: the watch stopped")
			}
			if e == nil {
				slices.SortFunc(out, func(a, b SiteContact) int { return strings.Compare(a.Member, b.Member) })
				return out, nil
			}
			var c SiteContact
			if json.Unmarshal(e.Value(), &c) == nil {
				out = append(out, c.Seen(now))
			}
		}
	}
}
