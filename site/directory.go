package site

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// siteDirectory is the public directory as the site's cache holds it
// (the pages it relayed), for the site's own use: the member's region and
// name, and the keys the member's queued status reports are verified
// with. It implements envelope.Registry.
type siteDirectory struct {
	members map[string]*tocsinv1.Member
	// at is when the cache kept the first page; zero: none.
	at time.Time
}

// Member returns id's record, or an error wrapping envelope's unknown
// member when the site's copy has none.
func (d *siteDirectory) Member(_ context.Context, id string) (*tocsinv1.Member, error) {
	if m := d.members[id]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %s is not in the site's copy of the directory", envelope.ErrUnknownMember, id)
}

// directoryCache memoises the parsed directory by the time its first page
// was kept.
type directoryCache struct {
	mu  sync.Mutex
	dir *siteDirectory
}

// directoryPage is the cache subject of the page after member id after,
// the request records.FetchDirectory sends.
func directoryPage(after string) string {
	body, _ := json.Marshal(records.DirectoryRequest{After: after})
	return cacheSubject(subjects.SvcDirectory, body)
}

// directory reads the site's copy of the public directory, page after page
// as they were kept (nil members when the site never got one).
func (s *Site) directory(ctx context.Context) (*siteDirectory, error) {
	first, at, err := s.cached(ctx, directoryPage(""))
	if err != nil {
		return nil, err
	}
	if first == nil {
		return &siteDirectory{}, nil
	}
	s.dirCache.mu.Lock()
	defer s.dirCache.mu.Unlock()
	if d := s.dirCache.dir; d != nil && d.at.Equal(at) {
		return d, nil
	}
	d := &siteDirectory{members: map[string]*tocsinv1.Member{}, at: at}
	page, after := first, ""
	for page != nil {
		ms, err := records.DecodeMembers(page.Data)
		if err != nil {
			return nil, fmt.Errorf("the site's copy of the directory: %w", err)
		}
		for _, m := range ms {
			d.members[m.GetId()] = m
		}
		next := page.Header.Get(records.HeaderDirectoryNext)
		if next == "" || next == after || len(ms) == 0 {
			break
		}
		after = next
		if page, _, err = s.cached(ctx, directoryPage(after)); err != nil {
			return nil, err
		}
	}
	s.dirCache.dir = d
	return d, nil
}

// boardKept is when the site last kept the member's own board (zero:
// never).
func (s *Site) boardKept(ctx context.Context) time.Time {
	body, _ := json.Marshal(mutualaid.SituationQuery{})
	_, at, err := s.cached(ctx, cacheSubject(subjects.SvcSituation(s.id.member), body))
	if err != nil {
		return time.Time{}
	}
	return at
}

// directoryFetched is when the site last kept the directory's first page
// (zero: never), on disk across restarts.
func (s *Site) directoryFetched(ctx context.Context) time.Time {
	_, at, err := s.cached(ctx, directoryPage(""))
	if err != nil {
		return time.Time{}
	}
	return at
}
