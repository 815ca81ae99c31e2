package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/tocsin-project/tocsin/records"
)

// sectorSet is the sectors the member is in, as the directory last said:
// one consumer reads them all and the cluster changes its filters in
// place when they change, so a copy of a sector joined since the agent
// started can arrive before the agent's copy of the directory says so.
type sectorSet struct {
	mu  sync.RWMutex
	set map[string]bool
}

func newSectorSet(sectors []string) *sectorSet {
	s := &sectorSet{}
	s.reset(sectors)
	return s
}

func (s *sectorSet) reset(sectors []string) {
	set := make(map[string]bool, len(sectors))
	for _, x := range sectors {
		set[x] = true
	}
	s.mu.Lock()
	s.set = set
	s.mu.Unlock()
}

func (s *sectorSet) has(sector string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.set[sector]
}

// knowSector makes sure the checker's sectors are current before a copy of
// sector is judged: a sector it does not hold may be one the member joined
// since, so the directory is refreshed (at most once per minRefresh) and
// the member's sectors read again. Until a copy fetched after the copy's
// arrival says so, the failure is transient (the copy is retried, never
// quarantined for a sector the registry may well give the member).
func (c *checker) knowSector(ctx context.Context, sector string) error {
	if sector == "" || c.sectors.has(sector) {
		return nil
	}
	refreshed, _, err := c.dir.refreshIfOld(ctx)
	if me, merr := c.dir.Member(ctx, c.me); merr == nil {
		c.sectors.reset(me.GetSectors())
	}
	if c.sectors.has(sector) || refreshed {
		return nil // a copy fetched just now says no: the checks refuse it
	}
	if err == nil {
		err = fmt.Errorf("%w: fetched less than %s ago", records.ErrDirectory, c.dir.minRefresh)
	}
	return fmt.Errorf("a copy for sector %s, which the member directory does not give %s yet; retried once the directory is fetched again: %w", sector, c.me, err)
}

// isStream reports whether stream is plain (SECTORS, INBOX) or its
// region's (SECTORS-east): a member homed in a region of a supercluster of
// stream sets reads its region's set (docs/REGIONS.md).
func isStream(stream, plain string) bool {
	return stream == plain || strings.HasPrefix(stream, plain+"-")
}
