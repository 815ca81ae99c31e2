package members

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// sectorMemo keeps IDsInSectors's answers: the router counts who an alert
// reaches on every alert, and walking every member each time costs as
// much as a signature check at a few hundred members.
type sectorMemo struct {
	mu sync.Mutex
	// gen is the cache generation the answers were computed from; apply
	// moves the registry's on every change it makes.
	gen     uint64
	answers map[string]sectorAnswer
}

// sectorAnswer is the members of one set of sectors, valid until a cached
// member created in the future becomes active (zero: no such member).
type sectorAnswer struct {
	ids   []string
	until time.Time
}

// IDsInSectors returns the ids of the cached members of any of sectors
// that are active now and not revoked, sorted, each once. The answer is
// shared: callers must not modify it.
func (r *Registry) IDsInSectors(sectors []string) []string {
	if len(sectors) == 0 {
		return nil
	}
	key := strings.Join(sectors, ",")
	t := time.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.sectors.mu.Lock()
	if r.sectors.gen != r.gen || r.sectors.answers == nil {
		r.sectors.gen, r.sectors.answers = r.gen, map[string]sectorAnswer{}
	}
	a, ok := r.sectors.answers[key]
	r.sectors.mu.Unlock()
	if ok && (a.until.IsZero() || t.Before(a.until)) {
		return a.ids
	}
	a = sectorAnswer{}
	for _, c := range r.cache {
		if !unrevokedIn(c.m, sectors) {
			continue
		}
		if Active(c.m, t) {
			a.ids = append(a.ids, c.m.Id)
		} else if created := c.m.GetCreatedAt().AsTime(); a.until.IsZero() || created.Before(a.until) {
			a.until = created
		}
	}
	slices.Sort(a.ids)
	r.sectors.mu.Lock()
	if r.sectors.gen == r.gen {
		r.sectors.answers[key] = a
	}
	r.sectors.mu.Unlock()
	return a.ids
}
