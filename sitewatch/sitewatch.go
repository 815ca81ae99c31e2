// Package sitewatch is the hub's record of its member sites' links
// (docs/SITES.md, "Last contact"): every node with a leaf listener reads
// its own leaf connections (nats-server's Leafz) every few seconds and
// writes, in the SITES bucket, each site's link as the hub sees it: up
// since, last contact, down since. The record is the hub's own, so a
// site's last contact survives its link being down and the node's
// restart; a reader takes an up record whose node stopped writing it as
// down since its last contact (records.SiteContact.Seen).
package sitewatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// Defaults for Options.
const (
	// DefaultInterval is how often a node reads its leaf connections.
	DefaultInterval = 2 * time.Second
	// DefaultHeartbeat is how often a node writes the last contact of a
	// site that stays linked to it.
	DefaultHeartbeat = 30 * time.Second
)

// callTimeout bounds one poll's writes.
const callTimeout = 5 * time.Second

// ErrDeps is wrapped when New is given incomplete Deps.
var ErrDeps = errors.New("sitewatch: incomplete deps")

// Deps are what a watcher works with.
type Deps struct {
	// Server is the node's nats-server: its leaf connections and their
	// accounts are read in process.
	Server *server.Server
	// JS is a JetStream context with the service's rights: it writes the
	// SITES bucket.
	JS jetstream.JetStream
	// Node is the node's name, written in the records.
	Node string
	// Members reads a member's record (members.Registry): a member homed
	// in a region (docs/REGIONS.md) has its site consumers and its
	// forwarded messages on that region's streams (SECTORS-<home>,
	// INGEST-<home>). Nil: every member is of no region, as on a single
	// cluster.
	Members Members
}

// Members is the part of the member registry a watcher reads.
type Members interface {
	Member(ctx context.Context, id string) (*tocsinv1.Member, error)
}

// Options configure a watcher.
type Options struct {
	// Interval is how often the leaf connections are read: a link that
	// goes down is on record as down within it. Default 2s.
	Interval time.Duration
	// Heartbeat is how often a linked site's last contact is written. A
	// record not written again within 2.5 heartbeats is taken as down (its
	// node stopped). Default 30s.
	Heartbeat time.Duration
	// Region is the node's region on a supercluster of stream sets
	// (gateway.regions): the records go to its SITES-<region>, which its
	// region's console reads. Default "": SITES, a single cluster's.
	Region string
}

func (o Options) withDefaults() Options {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	return o
}

// Watcher writes the SITES records of one node's leaf links.
type Watcher struct {
	d    Deps
	opts Options
	log  *zap.Logger
	// links are the site links open on this node, by leaf connection id.
	links map[uint64]*link
	// members are the member ids of the accounts seen, by account key.
	members map[string]string
}

type link struct {
	rec     records.SiteContact
	written time.Time
}

// New returns a watcher; Run runs it.
func New(d Deps, opts Options, log *zap.Logger) (*Watcher, error) {
	if d.Server == nil || d.JS == nil || d.Node == "" {
		return nil, fmt.Errorf("%w: needs Server, JS and Node", ErrDeps)
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts = opts.withDefaults()
	if opts.Interval <= 0 || opts.Heartbeat < opts.Interval {
		return nil, fmt.Errorf("sitewatch: interval %s, heartbeat %s: want a positive interval no longer than the heartbeat", opts.Interval, opts.Heartbeat)
	}
	return &Watcher{d: d, opts: opts, log: log.Named("sitewatch"), links: map[uint64]*link{}, members: map[string]string{}}, nil
}

// Run watches until ctx ends. It waits for the SITES bucket if it is not
// there yet (a cluster provisioned by an older version).
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	var kv jetstream.KeyValue
	for {
		if kv == nil {
			var err error
			octx, cancel := context.WithTimeout(ctx, callTimeout)
			kv, err = w.d.JS.KeyValue(octx, subjects.RegionStream(records.BucketSites, w.opts.Region))
			cancel()
			if err != nil {
				kv = nil
				w.log.Debug("the sites bucket is not there yet", zap.Error(err))
			}
		}
		if kv != nil {
			pctx, cancel := context.WithTimeout(ctx, callTimeout)
			w.poll(pctx, kv, time.Now())
			cancel()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// poll reads the node's leaf connections once and writes what changed.
func (w *Watcher) poll(ctx context.Context, kv jetstream.KeyValue, now time.Time) {
	lz, err := w.d.Server.Leafz(nil)
	if err != nil {
		w.log.Warn("read the leaf connections", zap.Error(err))
		return
	}
	open := map[uint64]bool{}
	linked := map[string]bool{}
	for _, l := range lz.Leafs {
		member := w.member(l.Account, l.Name)
		if member == "" {
			continue
		}
		open[l.ID], linked[member] = true, true
		ln := w.links[l.ID]
		if ln == nil {
			transport := "tcp"
			if l.Websocket {
				transport = "websocket"
			}
			ln = &link{rec: records.SiteContact{Member: member, Site: l.Name, Node: w.d.Node, Transport: transport, Up: true, UpSince: now}}
			w.links[l.ID] = ln
			w.log.Info("site linked", zap.String("member", member), zap.String("site", l.Name), zap.String("transport", transport))
		}
		ln.rec.LastContact, ln.rec.RTT = now, l.RTT
		if now.Sub(ln.written) >= w.opts.Heartbeat {
			ln.rec.FreshUntil = now.Add(w.opts.Heartbeat * 5 / 2)
			w.measure(ctx, &ln.rec)
			if w.put(ctx, kv, ln.rec) {
				ln.written = now
			}
		}
	}
	for id, ln := range w.links {
		if open[id] {
			continue
		}
		delete(w.links, id)
		w.log.Info("site link down", zap.String("member", ln.rec.Member), zap.String("site", ln.rec.Site))
		if !linked[ln.rec.Member] {
			w.measure(ctx, &ln.rec)
			w.markDown(ctx, kv, ln.rec, now)
		}
	}
}

// member is the member whose site a leaf connection in account is: the
// name of the account's JWT (signed by the operator, so a site cannot
// claim another member's record by its server name). On a hub without
// authentication (one account for all) it is read from the site's
// server name, site-<member>-<random>.
func (w *Watcher) member(account, name string) string {
	if account == server.DEFAULT_GLOBAL_ACCOUNT {
		rest, ok := strings.CutPrefix(name, "site-")
		if i := strings.LastIndex(rest, "-"); ok && i > 0 {
			return rest[:i]
		}
		return ""
	}
	if m, ok := w.members[account]; ok {
		return m
	}
	az, err := w.d.Server.Accountz(&server.AccountzOptions{Account: account})
	if err != nil || az.Account == nil {
		return ""
	}
	m := az.Account.NameTag
	if az.Account.IsSystem || strings.EqualFold(m, "TOCSIN") {
		m = ""
	}
	w.members[account] = m
	return m
}

// put writes rec as its member's record.
func (w *Watcher) put(ctx context.Context, kv jetstream.KeyValue, rec records.SiteContact) bool {
	data, _ := json.Marshal(rec)
	if _, err := kv.Put(ctx, rec.Member, data); err != nil {
		w.log.Warn("write a site's last contact", zap.String("member", rec.Member), zap.Error(err))
		return false
	}
	return true
}

// markDown records last's link as down at now, unless the record says
// another node (or a later link) has the site now: the write is a
// compare-and-set on the record this node read.
func (w *Watcher) markDown(ctx context.Context, kv jetstream.KeyValue, last records.SiteContact, now time.Time) {
	down := last
	down.Up, down.DownSince, down.FreshUntil = false, now, time.Time{}
	data, _ := json.Marshal(down)
	e, err := kv.Get(ctx, last.Member)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = kv.Create(ctx, last.Member, data)
	case err == nil:
		var cur records.SiteContact
		if json.Unmarshal(e.Value(), &cur) == nil && (cur.Node != w.d.Node || cur.Site != last.Site || cur.UpSince.After(last.UpSince)) {
			return // the site has linked elsewhere since
		}
		_, err = kv.Update(ctx, last.Member, data, e.Revision())
	}
	if err != nil {
		w.log.Warn("record a site's link down", zap.String("member", last.Member), zap.Error(err))
	}
}

// measure sets rec's source lag (what the member's site consumers hold
// that the site has not acknowledged) and outbox backlog (the
// records.SiteBacklogHeader of the last message the site forwarded to
// INGEST, with the outbox's fill and alarm shares; kept as they were when
// the member's last message came another way), each read on the streams
// of the member's home region. What cannot be read is left as it was.
func (w *Watcher) measure(ctx context.Context, rec *records.SiteContact) {
	home, ok := w.home(ctx, rec.Member)
	if !ok {
		return
	}
	if lag, ok := w.sourceLag(ctx, rec.Member, home); ok {
		rec.SourceLag = lag
	}
	st, err := w.d.JS.Stream(ctx, subjects.RegionStream(subjects.StreamIngest, home))
	if err != nil {
		return
	}
	m, err := st.GetLastMsgForSubject(ctx, subjects.InRegion(home, subjects.Ingest("*", rec.Member)))
	if err != nil {
		return
	}
	if v := m.Header.Get(records.SiteBacklogHeader); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			rec.OutboxBacklog, rec.OutboxBacklogAt = n, m.Time
			rec.OutboxFill = share(m.Header.Get(records.SiteOutboxFillHeader))
			rec.OutboxAlarm = share(m.Header.Get(records.SiteOutboxAlarmHeader))
		}
	}
}

// share is a header's share of a cap, 0 when it is none.
func share(v string) float64 {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0
	}
	return f
}

// home is member's home region ("" for none, or without Deps.Members);
// ok is false when its record could not be read.
func (w *Watcher) home(ctx context.Context, member string) (string, bool) {
	if w.d.Members == nil {
		return "", true
	}
	m, err := w.d.Members.Member(ctx, member)
	if err != nil {
		w.log.Debug("read a site's member", zap.String("member", member), zap.Error(err))
		return "", false
	}
	return m.GetHomeRegion(), true
}

// sourceLag sums what member's site consumers, on home's copies streams,
// hold that its site has not acknowledged; ok is false when one could
// not be read.
func (w *Watcher) sourceLag(ctx context.Context, member, home string) (lag uint64, ok bool) {
	for _, stream := range subjects.CopiesStreams {
		c, err := w.d.JS.PushConsumer(ctx, subjects.RegionStream(stream, home), auth.SiteConsumerName(member, stream))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			w.log.Debug("read a site consumer", zap.String("member", member), zap.String("stream", stream), zap.Error(err))
			return 0, false
		}
		info := c.CachedInfo()
		lag += info.NumPending + uint64(info.NumAckPending)
	}
	return lag, true
}
