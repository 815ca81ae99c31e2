package members

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// watch applies every change of the bucket to the cache until the watcher
// stops, closing loaded once the initial records are in.
func (r *Registry) watch(w jetstream.KeyWatcher, loaded chan<- struct{}) {
	defer close(r.done)
	defer r.live.Store(false)
	first := true
	for e := range w.Updates() {
		if e == nil {
			if first {
				first = false
				close(loaded)
			}
			continue
		}
		r.apply(e)
	}
	if r.closing.Load() {
		return
	}
	r.log.Error("member registry watcher stopped; lookups now read the bucket until the registry is reopened")
}

// apply puts one change into the cache; an older revision than the cached
// one changes nothing.
func (r *Registry) apply(e jetstream.KeyValueEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rev = max(r.rev, e.Revision())
	if c, ok := r.cache[e.Key()]; ok && c.rev >= e.Revision() {
		return
	}
	r.gen++
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		r.deletedRev = max(r.deletedRev, e.Revision())
		delete(r.cache, e.Key())
		r.log.Info("member record deleted", zap.String("member", e.Key()), zap.Uint64("revision", e.Revision()))
		return
	}
	m, err := decode(e.Key(), e.Value())
	if err != nil {
		r.log.Error("member record skipped", zap.Uint64("revision", e.Revision()), zap.Error(err))
		return
	}
	r.cache[m.Id] = cached{m: m, rev: e.Revision()}
	r.log.Debug("member record loaded", zap.String("member", m.Id), zap.Uint64("revision", e.Revision()))
}

// Member returns member id from the in-process cache, with no network round
// trip; on a miss (or once the watcher has stopped) it reads the bucket as
// Get does. An id no member has gives an error wrapping ErrNotFound (and
// envelope.ErrUnknownMember). The record is a copy the caller may keep.
func (r *Registry) Member(ctx context.Context, id string) (*tocsinv1.Member, error) {
	if r.live.Load() {
		r.mu.RLock()
		c, ok := r.cache[id]
		r.mu.RUnlock()
		if ok {
			return proto.CloneOf(c.m), nil
		}
	}
	return r.Get(ctx, id)
}

// InSectors returns, from the cache, the members of any of sectors that are
// active now and not revoked, sorted by id. No sectors gives none.
func (r *Registry) InSectors(sectors []string) []*tocsinv1.Member {
	var out []*tocsinv1.Member
	r.eachInSectors(sectors, func(m *tocsinv1.Member) { out = append(out, proto.CloneOf(m)) })
	sortByID(out)
	return out
}

// eachInSectors calls f, under the read lock, with every cached member of
// any of sectors that is active now and not revoked. f must not keep m.
func (r *Registry) eachInSectors(sectors []string, f func(m *tocsinv1.Member)) {
	if len(sectors) == 0 {
		return
	}
	t := time.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, c := range r.cache {
		if unrevokedIn(c.m, sectors) && Active(c.m, t) {
			f(c.m)
		}
	}
}

// unrevokedIn reports whether m is not revoked and in any of sectors.
func unrevokedIn(m *tocsinv1.Member, sectors []string) bool {
	return m.RevokedAt == nil && slices.ContainsFunc(m.Sectors, func(s string) bool { return slices.Contains(sectors, s) })
}

// sortByID sorts ms by id.
func sortByID(ms []*tocsinv1.Member) {
	slices.SortFunc(ms, func(a, b *tocsinv1.Member) int { return strings.Compare(a.Id, b.Id) })
}

// Regions returns, from the cache, the regions of the members active now,
// sorted, each once.
func (r *Registry) Regions() []string {
	t := time.Now()
	seen := map[string]bool{}
	r.mu.RLock()
	for _, c := range r.cache {
		if reg := c.m.GetRegion(); reg != "" && Active(c.m, t) {
			seen[reg] = true
		}
	}
	r.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for reg := range seen {
		out = append(out, reg)
	}
	slices.Sort(out)
	return out
}
