package members

import (
	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Snapshot returns every cached record, sorted by id, and the bucket
// revision the copy reflects: every change up to it, none after. ok is
// false when the registry keeps no live copy (OpenUncached, or its watcher
// stopped): then there is no revision to give.
func (r *Registry) Snapshot() (all []*tocsinv1.Member, rev uint64, ok bool) {
	if !r.live.Load() {
		return nil, 0, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	all = make([]*tocsinv1.Member, 0, len(r.cache))
	for _, c := range r.cache {
		all = append(all, proto.CloneOf(c.m))
	}
	sortByID(all)
	return all, r.rev, true
}

// ChangedSince returns the records written after revision since, sorted
// by id, and the revision the answer reflects: what a copy made at since
// needs to be current (the incremental directory). ok is false when a list
// of records cannot bring such a copy up to date, and the caller must
// take everything again (Snapshot): since is 0, the registry keeps no live
// copy, since is past the current revision (the bucket was created again
// since), or a record was deleted or purged after since (a removal is no
// record; records are never deleted, a member leaves by revocation).
func (r *Registry) ChangedSince(since uint64) (changed []*tocsinv1.Member, rev uint64, ok bool) {
	if since == 0 || !r.live.Load() {
		return nil, 0, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if since > r.rev || since < r.deletedRev {
		return nil, r.rev, false
	}
	for _, c := range r.cache {
		if c.rev > since {
			changed = append(changed, proto.CloneOf(c.m))
		}
	}
	sortByID(changed)
	return changed, r.rev, true
}
