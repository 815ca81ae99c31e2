package store

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// verKey is one version of one object.
type verKey struct {
	id      string
	version int64
}

// entry is one object version in a partition, with its date_added.
type entry struct {
	added time.Time
	obj   *Object
	msg   *Message
}

func (e *entry) key() verKey { return verKey{e.obj.ID, e.obj.Version.UnixNano()} }

// partition is the object versions routed to one destination, in
// date_added order; each version once (the first copy's).
type partition struct {
	entries []*entry
	seen    map[verKey]bool
}

func (p *partition) add(e *entry) {
	if p.seen[e.key()] {
		return
	}
	p.seen[e.key()] = true
	p.entries = append(p.entries, e)
}

// Collection kinds.
const (
	// CollSector is the alerts routed to one sector.
	CollSector = "sector"
	// CollInbox is the alerts addressed to the caller's own inbox.
	CollInbox = "inbox"
	// CollAdvisories is the advisories routed to any of the caller's sectors.
	CollAdvisories = "advisories"
)

// Collection names what a query reads.
type Collection struct {
	// Kind is CollSector, CollInbox or CollAdvisories.
	Kind string
	// Sector is the sector of a CollSector collection.
	Sector string
}

// Query selects object versions, as TAXII's objects and manifest
// endpoints do.
type Query struct {
	// AddedAfter keeps versions added strictly after it (zero: all).
	AddedAfter time.Time
	// Limit is the page size; 0 means no limit.
	Limit int
	// Next continues a previous page of the same query.
	Next string
	// IDs keeps these object ids (match[id]); empty: all.
	IDs []string
	// Types keeps these types (match[type]); empty: all.
	Types []string
	// Versions is match[version]: "last" (the default), "first", "all" or
	// timestamps, any mix.
	Versions []string
	// SpecVersions keeps these spec versions (match[spec_version]); empty:
	// the latest spec version of each object.
	SpecVersions []string
}

// Entry is one object version of a result.
type Entry struct {
	// Object is the object.
	Object *Object
	// Added is its date_added in the collection.
	Added time.Time
	// MessageID is the alert or advisory that carried it.
	MessageID string
}

// Page is one page of a result.
type Page struct {
	// Entries are the versions, oldest date_added first.
	Entries []Entry
	// More reports whether later entries remain.
	More bool
	// Next, when More, continues the query.
	Next string
}

// ErrBadQuery is wrapped by errors in the query itself (400).
var ErrBadQuery = errors.New("bad query")

// partsFor returns the partitions member may read for c.
func partsFor(member *tocsinv1.Member, c Collection) ([]string, error) {
	switch c.Kind {
	case CollSector:
		if slices.Contains(member.GetSectors(), c.Sector) {
			return []string{sectorPart(KindAlert, c.Sector)}, nil
		}
	case CollInbox:
		return []string{inboxPart(member.GetId())}, nil
	case CollAdvisories:
		var out []string
		for _, s := range member.GetSectors() {
			out = append(out, sectorPart(KindAdvisory, s))
		}
		return out, nil
	}
	return nil, fmt.Errorf("collection %s %s: %w", c.Kind, c.Sector, ErrNotFound)
}

// Query returns a page of the object versions of c that member may read
// and q selects.
func (s *Store) Query(member *tocsinv1.Member, c Collection, q Query) (*Page, error) {
	parts, err := partsFor(member, c)
	if err != nil {
		return nil, err
	}
	sel, err := parseVersions(q.Versions)
	if err != nil {
		return nil, err
	}
	hash := q.hash(c)
	var after *cursor
	if q.Next != "" {
		if after, err = decodeCursor(q.Next, hash); err != nil {
			return nil, err
		}
	}
	found := s.candidates(parts, q)
	found = sel.apply(found, q.SpecVersions)
	slices.SortFunc(found, compareEntries)
	page := &Page{}
	for _, e := range found {
		if !q.AddedAfter.IsZero() && !e.added.After(q.AddedAfter) {
			continue
		}
		if after != nil && compareEntries(e, after.entry()) <= 0 {
			continue
		}
		if q.Limit > 0 && len(page.Entries) == q.Limit {
			page.More = true
			last := page.Entries[len(page.Entries)-1]
			page.Next = encodeCursor(cursor{Added: last.Added.UnixNano(), ID: last.Object.ID, Version: last.Object.Version.UnixNano(), Hash: hash})
			break
		}
		page.Entries = append(page.Entries, Entry{Object: e.obj, Added: e.added, MessageID: e.msg.ID})
	}
	return page, nil
}

// candidates returns the entries of parts that q's id, type and explicit
// spec_version filters keep; a version in several partitions counts once,
// at its earliest date_added.
func (s *Store) candidates(parts []string, q Query) []*entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keep := func(e *entry) bool {
		o := e.obj
		return (len(q.IDs) == 0 || slices.Contains(q.IDs, o.ID)) && (len(q.Types) == 0 || slices.Contains(q.Types, o.Type)) &&
			(len(q.SpecVersions) == 0 || slices.Contains(q.SpecVersions, o.SpecVersion))
	}
	var out []*entry
	if len(parts) == 1 {
		if p := s.parts[parts[0]]; p != nil {
			for _, e := range p.entries {
				if keep(e) {
					out = append(out, e)
				}
			}
		}
		return out
	}
	first := map[verKey]*entry{}
	for _, name := range parts {
		p := s.parts[name]
		if p == nil {
			continue
		}
		for _, e := range p.entries {
			if !keep(e) {
				continue
			}
			if cur, ok := first[e.key()]; !ok || e.added.Before(cur.added) {
				first[e.key()] = e
			}
		}
	}
	for _, e := range first {
		out = append(out, e)
	}
	return out
}

func compareEntries(a, b *entry) int {
	return cmp.Or(a.added.Compare(b.added), strings.Compare(a.obj.ID, b.obj.ID), a.obj.Version.Compare(b.obj.Version))
}

// versionSelector is a parsed match[version].
type versionSelector struct {
	last, first, all bool
	at               []time.Time
}

func parseVersions(vs []string) (versionSelector, error) {
	var sel versionSelector
	if len(vs) == 0 {
		sel.last = true
	}
	for _, v := range vs {
		switch v {
		case "last":
			sel.last = true
		case "first":
			sel.first = true
		case "all":
			sel.all = true
		default:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return sel, fmt.Errorf("%w: match[version] %q is not last, first, all or a timestamp", ErrBadQuery, v)
			}
			sel.at = append(sel.at, t)
		}
	}
	return sel, nil
}

// apply keeps, of each object, the versions the selector names, among
// the object's latest spec version unless spec versions were asked for.
func (sel versionSelector) apply(found []*entry, specVersions []string) []*entry {
	byID := map[string][]*entry{}
	for _, e := range found {
		byID[e.obj.ID] = append(byID[e.obj.ID], e)
	}
	out := found[:0:0]
	for _, group := range byID {
		if len(specVersions) == 0 {
			latest := slices.MaxFunc(group, func(a, b *entry) int { return strings.Compare(a.obj.SpecVersion, b.obj.SpecVersion) }).obj.SpecVersion
			group = slices.DeleteFunc(group, func(e *entry) bool { return e.obj.SpecVersion != latest })
		}
		if sel.all {
			out = append(out, group...)
			continue
		}
		byVersion := func(a, b *entry) int { return a.obj.Version.Compare(b.obj.Version) }
		lo, hi := slices.MinFunc(group, byVersion), slices.MaxFunc(group, byVersion)
		for _, e := range group {
			if (sel.first && e == lo) || (sel.last && e == hi) || slices.ContainsFunc(sel.at, e.obj.Version.Equal) {
				out = append(out, e)
			}
		}
	}
	return out
}

// cursor is where a page ended.
type cursor struct {
	Added   int64  `json:"t"`
	ID      string `json:"i"`
	Version int64  `json:"v"`
	Hash    uint64 `json:"h"`
}

func (c *cursor) entry() *entry {
	return &entry{added: time.Unix(0, c.Added), obj: &Object{ID: c.ID, Version: time.Unix(0, c.Version)}}
}

func encodeCursor(c cursor) string {
	data, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeCursor(s string, hash uint64) (*cursor, error) {
	data, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err != nil || json.Unmarshal(data, &c) != nil {
		return nil, fmt.Errorf("%w: next %q is not a value this server gave", ErrBadQuery, s)
	}
	if c.Hash != hash {
		return nil, fmt.Errorf("%w: next belongs to another query: repeat the first query's parameters with it", ErrBadQuery)
	}
	return &c, nil
}

// hash identifies the query a cursor belongs to (everything but the page
// size and the cursor).
func (q Query) hash(c Collection) uint64 {
	h := fnv.New64a()
	for _, part := range [][]string{{c.Kind, c.Sector, q.AddedAfter.UTC().Format(time.RFC3339Nano)}, q.IDs, q.Types, q.Versions, q.SpecVersions} {
		fmt.Fprintf(h, "%q;", part)
	}
	return h.Sum64()
}
