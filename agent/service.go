package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// ServiceOptions configures a Service. The zero value is the default.
type ServiceOptions struct {
	// DirectoryTTL is how long a listing of the registry is reused for
	// directory requests. Default 2s.
	DirectoryTTL time.Duration
	// Timeout bounds the JetStream calls of one consumer request. Default 10s.
	Timeout time.Duration
}

// ServiceDeps are what a Service works with.
type ServiceDeps struct {
	// Conn is a service connection (unrestricted in the TOCSIN account).
	Conn *nats.Conn
	// JS is a JetStream context on Conn.
	JS jetstream.JetStream
	// Registry is the member registry.
	Registry *members.Registry
}

// Service answers agents' requests on every node: the public directory
// (DirectorySubject), the re-creation of a lost consumer
// (ConsumerSubject) and, for liaisons, members' contacts
// (subjects.SvcContacts). Each node runs one; they share a queue group.
type Service struct {
	d    ServiceDeps
	opts ServiceOptions
	log  *zap.Logger

	// slots bounds the requests handled at once.
	slots chan struct{}

	mu      sync.Mutex
	listing []*tocsinv1.Member
	listRev uint64 // the MEMBERS revision of listing (0: unknown)
	listed  time.Time
}

// NewService checks deps and returns a Service; see Run.
func NewService(d ServiceDeps, opts ServiceOptions, log *zap.Logger) (*Service, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if d.Conn == nil || d.JS == nil || d.Registry == nil {
		return nil, errors.New("agent service: Conn, JS and Registry are required")
	}
	if opts.DirectoryTTL < 0 || opts.Timeout < 0 {
		return nil, errors.New("agent service: DirectoryTTL and Timeout cannot be negative; use 0 for the defaults")
	}
	if opts.DirectoryTTL == 0 {
		opts.DirectoryTTL = 2 * time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	return &Service{d: d, opts: opts, log: log.Named("agent-svc"), slots: make(chan struct{}, 16)}, nil
}

// Run answers requests until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	// Handlers run in their own goroutines (at most cap(slots) at once):
	// re-creating consumers after a node loss comes in bursts. Those still
	// running when ctx ends finish on their own, quickly: their calls use ctx.
	handle := func(h func(context.Context, *nats.Msg)) nats.MsgHandler {
		return func(m *nats.Msg) {
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-s.slots }()
				h(ctx, m)
			}()
		}
	}
	dir, err := s.d.Conn.QueueSubscribe(DirectorySubject, serviceQueue, handle(s.directory))
	if err != nil {
		return fmt.Errorf("agent service: subscribe %s: %w", DirectorySubject, err)
	}
	defer dir.Unsubscribe()
	cons, err := s.d.Conn.QueueSubscribe(consumerSubjectAll, serviceQueue, handle(s.consumer))
	if err != nil {
		return fmt.Errorf("agent service: subscribe %s: %w", consumerSubjectAll, err)
	}
	defer cons.Unsubscribe()
	contacts, err := s.d.Conn.QueueSubscribe(contactsSubjectAll, serviceQueue, handle(s.contacts))
	if err != nil {
		return fmt.Errorf("agent service: subscribe %s: %w", contactsSubjectAll, err)
	}
	defer contacts.Unsubscribe()
	<-ctx.Done()
	return nil
}

// members returns the registry's public records and the MEMBERS revision
// they reflect (0 when the registry keeps no live copy and they were read
// from the bucket), listed at most once per TTL.
func (s *Service) members(ctx context.Context) ([]*tocsinv1.Member, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listing != nil && time.Since(s.listed) < s.opts.DirectoryTTL {
		return s.listing, s.listRev, nil
	}
	all, rev, ok := s.d.Registry.Snapshot()
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		var err error
		if all, err = s.d.Registry.List(ctx); err != nil {
			return nil, 0, err
		}
	}
	s.listing, s.listRev, s.listed = publicViews(all), rev, time.Now()
	return s.listing, s.listRev, nil
}

// publicViews are members.PublicView of every record of all.
func publicViews(all []*tocsinv1.Member) []*tocsinv1.Member {
	out := make([]*tocsinv1.Member, 0, len(all))
	for _, m := range all {
		out = append(out, members.PublicView(m))
	}
	return out
}

// directory answers one page of the public directory: of every member,
// or, for a request with a revision (records.DirectoryRequest.Since), of
// the members whose records changed after it (the agent's incremental
// refresh: a few records instead of 2-3 MB at 10,000 members). A revision
// the registry cannot answer from (too old, or from a bucket created
// again since) is answered with records.HeaderDirectoryFull, and the
// agent fetches everything.
func (s *Service) directory(ctx context.Context, m *nats.Msg) {
	var req records.DirectoryRequest
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &req); err != nil {
			s.refuse(m, "the request is not JSON {\"after\": \"<member id>\", \"since\": <revision>}")
			return
		}
	}
	var all []*tocsinv1.Member
	var rev uint64
	if req.Since > 0 {
		changed, now, ok := s.d.Registry.ChangedSince(req.Since)
		if !ok {
			reply := nats.NewMsg(m.Reply)
			reply.Header.Set(records.HeaderDirectoryFull, fmt.Sprintf("revision %d cannot be brought up to date with changes (the registry is at %d); fetch the whole directory", req.Since, now))
			_ = m.RespondMsg(reply)
			return
		}
		all, rev = publicViews(changed), now
	} else {
		var err error
		if all, rev, err = s.members(ctx); err != nil {
			s.log.Warn("directory listing failed", zap.Error(err))
			s.refuse(m, "the member registry cannot be read right now; try again")
			return
		}
	}
	from, _ := slices.BinarySearchFunc(all, req.After, func(m *tocsinv1.Member, id string) int { return strings.Compare(m.GetId(), id) })
	if from < len(all) && all[from].GetId() == req.After {
		from++
	}
	page, n, err := records.EncodeMembers(all[from:], records.MaxDirectoryPage)
	if err != nil {
		s.refuse(m, "the directory does not encode")
		return
	}
	reply := nats.NewMsg(m.Reply)
	reply.Data = page
	if rev > 0 {
		reply.Header.Set(records.HeaderDirectoryRevision, strconv.FormatUint(rev, 10))
	}
	if from+n < len(all) {
		reply.Header.Set(records.HeaderDirectoryNext, all[from+n-1].GetId())
	}
	_ = m.RespondMsg(reply)
}

// refuse answers a request with an error the caller can show.
func (s *Service) refuse(m *nats.Msg, reason string) {
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set(records.HeaderError, reason)
	_ = m.RespondMsg(reply)
}

// consumer answers a request to create one of a member's consumers again.
func (s *Service) consumer(ctx context.Context, m *nats.Msg) {
	member := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	rep := s.ensureConsumer(ctx, member, m.Data)
	if rep.Error != "" {
		s.log.Warn("consumer request refused", zap.String("member", member), zap.String("reason", rep.Error))
	}
	data, _ := json.Marshal(rep)
	_ = m.Respond(data)
}

// ensureConsumer makes the named consumer of member exist: a healthy one
// is left alone, a missing one is created, one whose node is gone is
// deleted and created again, from the sequence the agent asked for.
func (s *Service) ensureConsumer(ctx context.Context, member string, body []byte) consumerReply {
	var req consumerRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return consumerReply{Error: "the request is not JSON {\"name\": ..., \"start_seq\": ...}"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	rec, err := s.d.Registry.Member(ctx, member)
	if errors.Is(err, members.ErrNotFound) || (err == nil && rec.GetRevokedAt() != nil) {
		return consumerReply{Error: fmt.Sprintf("%q is not an active member", member)}
	}
	if err != nil {
		return consumerReply{Error: "the member registry cannot be read right now; try again"}
	}
	i := slices.IndexFunc(auth.Consumers(rec), func(c auth.Consumer) bool { return c.Name == req.Name })
	if i < 0 {
		return consumerReply{Error: fmt.Sprintf("%q is not one of %s's consumers", req.Name, member)}
	}
	c := auth.Consumers(rec)[i]
	_, err = s.d.JS.Consumer(ctx, c.Stream, c.Name)
	switch {
	case err == nil:
		return consumerReply{Action: "exists"}
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return s.create(ctx, rec, c, req.StartSeq, "created")
	case auth.IsConsumerOffline(err):
		if err := s.d.JS.DeleteConsumer(ctx, c.Stream, c.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return consumerReply{Error: fmt.Sprintf("delete offline consumer %s: %v; try again", c.Name, err)}
		}
		return s.create(ctx, rec, c, req.StartSeq, "recreated")
	default:
		return consumerReply{Error: fmt.Sprintf("consumer %s: %v; try again", c.Name, err)}
	}
}

// create creates consumer c of member m from startSeq: how a lazily
// admitted member's consumers come to be, at its agent's first connection,
// and how one of an earlier version's per-sector consumers is migrated
// (auth.CreateConsumer starts it from their ack floors then).
func (s *Service) create(ctx context.Context, m *tocsinv1.Member, c auth.Consumer, startSeq uint64, action string) consumerReply {
	start, exists, err := auth.CreateConsumer(ctx, s.d.JS, m, c, startSeq)
	if exists && err == nil {
		return consumerReply{Action: "exists"}
	}
	if err != nil {
		return consumerReply{Error: fmt.Sprintf("create consumer %s: %v; try again", c.Name, err)}
	}
	s.log.Info("member consumer "+action, zap.String("member", m.GetId()), zap.String("consumer", c.Name), zap.Uint64("start_seq", start))
	return consumerReply{Action: action, StartSeq: start}
}
