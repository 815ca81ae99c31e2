// Package store keeps, in memory, the routed alerts and advisories a node's
// web face serves: it follows the SECTORS and INBOX streams through the
// service connection from their first message, verifies every envelope,
// and indexes each STIX object under the destination of the copy that
// carried it (a sector, a member's inbox, a sector's advisories). Readers
// get only what their membership and TLP allow, object by object: an
// AMBER+STRICT or RED object is only ever indexed under the inbox of a
// member it was addressed to.
//
// date_added is the routed copy's stream timestamp, made strictly
// increasing per stream (the i-th object of a copy gets the copy's time
// plus i nanoseconds, and a copy never gets a time at or before the
// previous copy's last): so every object has a distinct date_added, the
// same on every node, and paging by added_after never skips or repeats one.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/internal/follow"
)

// Deps are what a Store reads with.
type Deps struct {
	// JS is a JetStream context on the node's service connection.
	JS jetstream.JetStream
	// Verifier checks every routed envelope; it must accept the relays
	// (VerifyOptions.Relays) that sign TAXII and console submissions.
	Verifier *envelope.Verifier
	// Region is the node's region in a supercluster whose regions each
	// hold a stream set (docs/REGIONS.md): the store follows its region's
	// SECTORS-<region> and INBOX-<region>, which hold every region's
	// copies. Default "": a single cluster's SECTORS and INBOX.
	Region string
}

// Copy is one routed copy of a message: where it went and when.
type Copy struct {
	// Sector is the sector of a sector copy.
	Sector string `json:"sector,omitempty"`
	// Inbox is the member of an inbox copy.
	Inbox string `json:"inbox,omitempty"`
	// Added is the copy's stream time.
	Added time.Time `json:"added"`
}

// Event is a routed copy the store has just indexed.
type Event struct {
	// Message is the message, as it stands after the copy.
	Message *Message
	// Copy is the new copy.
	Copy Copy
}

// Store is the index. It is safe for concurrent use.
type Store struct {
	d   Deps
	log *zap.Logger

	mu       sync.RWMutex
	messages map[string]*Message // by "<sender>.<id>"
	byID     map[string]*Message // by id, the first sender's
	order    []*Message          // by first copy
	parts    map[string]*partition
	last     map[string]time.Time // per stream: the last date_added given
	subs     map[*subscriber]bool
	caught   map[string]bool // per stream: caught up once
	ready    chan struct{}
	rejected int
}

// New returns an empty Store; Run fills it.
func New(d Deps, log *zap.Logger) *Store {
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{d: d, log: log.Named("store"), messages: map[string]*Message{}, byID: map[string]*Message{}, parts: map[string]*partition{},
		last: map[string]time.Time{}, subs: map[*subscriber]bool{}, caught: map[string]bool{}, ready: make(chan struct{})}
}

// streams are the streams the store follows: SECTORS and INBOX, in its
// region's set.
func (s *Store) streams() []string {
	return []string{subjects.RegionStream(subjects.StreamSectors, s.d.Region), subjects.RegionStream(subjects.StreamInbox, s.d.Region)}
}

// Run follows SECTORS and INBOX until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, name := range s.streams() {
		wg.Go(func() { s.follow(ctx, name) })
	}
	wg.Wait()
	return nil
}

// Ready is closed once the store has caught up with both streams as they
// were when it started.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// IsReady reports whether Ready is closed.
func (s *Store) IsReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// follow reads one stream in order from its first message, resuming after
// the last one indexed when the consumer has to be made again.
func (s *Store) follow(ctx context.Context, stream string) {
	var next uint64 = 1
	follow.Retry(ctx, s.log, stream, func(ctx context.Context) error { return s.read(ctx, stream, &next) })
}

// read consumes stream from sequence *next until an error.
func (s *Store) read(ctx context.Context, stream string, next *uint64) error {
	st, err := s.d.JS.Stream(ctx, stream)
	if err != nil {
		return err
	}
	if st.CachedInfo().State.LastSeq < *next {
		s.caughtUp(stream)
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: *next}
	return follow.Stream(ctx, s.d.JS, stream, cfg, func() {}, func(msg jetstream.Msg) error {
		meta, err := msg.Metadata()
		if err != nil {
			return nil
		}
		if err := s.index(ctx, stream, msg, meta); err != nil {
			return err
		}
		*next = meta.Sequence.Stream + 1
		if meta.NumPending == 0 {
			s.caughtUp(stream)
		}
		return nil
	})
}

func (s *Store) caughtUp(stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.caught[stream] {
		return
	}
	s.caught[stream] = true
	for _, name := range s.streams() {
		if !s.caught[name] {
			return
		}
	}
	close(s.ready)
}

// destination parses a routed subject, of any region's.
func destination(subject string) (sector, inbox string, ok bool) {
	_, subject = subjects.OutOfRegion(subject)
	t := strings.Split(subject, ".")
	switch {
	case len(t) == 4 && t[0] == subjects.Prefix && t[1] == "sector":
		return t[2], "", true
	case len(t) == 3 && t[0] == subjects.Prefix && t[1] == "inbox":
		return "", t[2], true
	}
	return "", "", false
}

// index adds one routed copy. Only a failure to verify that is the
// cluster's (not the message's) is returned, after ctx ends.
func (s *Store) index(ctx context.Context, stream string, msg jetstream.Msg, meta *jetstream.MsgMetadata) error {
	sector, inbox, ok := destination(msg.Subject())
	if !ok {
		return nil
	}
	env, err := envelope.Decode(msg.Data(), 0)
	if err != nil || (env.GetKind() != tocsinv1.Kind_KIND_ALERT && env.GetKind() != tocsinv1.Kind_KIND_ADVISORY) {
		return nil // sighting summaries, aid notices
	}
	key := env.GetSender() + "." + env.GetId()
	s.mu.RLock()
	m := s.messages[key]
	s.mu.RUnlock()
	if m == nil {
		if m, err = s.open(ctx, env); err != nil {
			return err
		}
		if m == nil {
			return nil
		}
	}
	s.add(stream, key, m, sector, inbox, meta.Timestamp)
	return nil
}

// open verifies env, retrying while the registry cannot answer; nil when
// the envelope is refused.
func (s *Store) open(ctx context.Context, env *tocsinv1.Envelope) (*Message, error) {
	for {
		payload, err := envelope.PayloadFor(env.GetKind())
		if err != nil {
			return nil, nil
		}
		sender, err := s.d.Verifier.Open(ctx, env, payload)
		if err == nil {
			return newMessage(env, sender, payload), nil
		}
		if codes.Of(err) != tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED {
			s.mu.Lock()
			s.rejected++
			s.mu.Unlock()
			s.log.Warn("routed copy does not verify: not indexed", zap.String("id", env.GetId()), zap.String("sender", env.GetSender()), zap.Error(err))
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// add records a copy of m and indexes its objects under the copy's
// partition.
func (s *Store) add(stream, key string, m *Message, sector, inbox string, ts time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.messages[key]; ok {
		m = cur
	} else {
		m.Added = ts.UTC()
		s.messages[key] = m
		s.order = append(s.order, m)
		if s.byID[m.ID] == nil {
			s.byID[m.ID] = m
		}
		if m.Revoked && m.Amends != "" {
			if orig := s.messages[m.Sender+"."+m.Amends]; orig != nil {
				orig.Revoked = true
			}
		}
	}
	added := ts.UTC()
	if last := s.last[stream]; !added.After(last) {
		added = last.Add(time.Nanosecond)
	}
	s.last[stream] = added.Add(time.Duration(max(len(m.Objects)-1, 0)))
	var part string
	switch {
	case sector != "":
		if !m.TLP.AllowsSectorSubjects() {
			s.log.Error("a sector copy of a message above AMBER: not indexed", zap.String("id", m.ID), zap.String("sector", sector), zap.Stringer("tlp", m.TLP))
			return
		}
		if !slices.Contains(m.Sectors, sector) {
			m.Sectors = append(m.Sectors, sector)
		}
		part = sectorPart(m.Kind, sector)
	default:
		if !slices.Contains(m.Inboxes, inbox) {
			m.Inboxes = append(m.Inboxes, inbox)
		}
		part = inboxPart(inbox)
	}
	p := s.parts[part]
	if p == nil {
		p = &partition{seen: map[verKey]bool{}}
		s.parts[part] = p
	}
	for i, o := range m.Objects {
		if sector != "" && !o.TLP.AllowsSectorSubjects() {
			continue
		}
		p.add(&entry{added: added.Add(time.Duration(i)), obj: o, msg: m})
	}
	ev := Event{Message: m.snapshot(), Copy: Copy{Sector: sector, Inbox: inbox, Added: ts.UTC()}}
	for sub := range s.subs {
		select {
		case sub.ch <- ev:
		default:
			sub.dropped = true
		}
	}
}

// Partition names.
func sectorPart(kind, sector string) string {
	if kind == KindAdvisory {
		return "a:" + sector
	}
	return "s:" + sector
}

func inboxPart(member string) string { return "i:" + member }

// subscriber is one Subscribe call.
type subscriber struct {
	ch      chan Event
	dropped bool
}

// Subscribe returns the events indexed from now on, and a function that
// ends the subscription. A reader too slow for buf events loses the
// excess (Dropped says so): it should read the state again.
func (s *Store) Subscribe(buf int) (<-chan Event, func()) {
	sub := &subscriber{ch: make(chan Event, buf)}
	s.mu.Lock()
	s.subs[sub] = true
	s.mu.Unlock()
	return sub.ch, func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}
}

// Stats are the store's counts.
type Stats struct {
	// Messages is the number of messages indexed.
	Messages int
	// Entries is the number of object entries over every partition.
	Entries int
	// Refused is the number of routed copies that did not verify.
	Refused int
}

// Stats returns the store's counts.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Messages: len(s.order), Refused: s.rejected}
	for _, p := range s.parts {
		st.Entries += len(p.entries)
	}
	return st
}

// ErrNotFound is returned for a message or object the caller may not see
// or that does not exist: the two are never told apart.
var ErrNotFound = errors.New("not found")

// Messages returns the messages member may see, newest first, at most
// limit (0: all), of kind (empty: both).
func (s *Store) Messages(member *tocsinv1.Member, kind string, limit int) []*Message {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Message
	for i := len(s.order) - 1; i >= 0; i-- {
		m := s.order[i]
		if (kind == "" || m.Kind == kind) && m.visibleTo(member) {
			out = append(out, m.snapshot())
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

// Message returns message id (of any sender) as member may see it, with
// only the objects member may read.
func (s *Store) Message(member *tocsinv1.Member, id string) (*Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.byID[id]; m != nil && m.visibleTo(member) {
		c := m.snapshot()
		c.Objects = m.objectsFor(member)
		return c, nil
	}
	return nil, fmt.Errorf("message %s: %w", id, ErrNotFound)
}

// Visible reports whether member may see the message ev carries.
func (ev Event) Visible(member *tocsinv1.Member) bool { return ev.Message.visibleTo(member) }
