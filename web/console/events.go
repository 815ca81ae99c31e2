package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/web/store"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// event is one server-sent event.
type event struct {
	name string
	data []byte
	// message, when set, is shown only to members who may see it.
	message *store.Event
	// liaison, when set, goes to liaisons only.
	liaison bool
	// to, when set, says which streams the event goes to.
	to func(*client) bool
}

// client is one open event stream.
type client struct {
	member  *tocsinv1.Member
	liaison bool
	ch      chan event
	gone    chan struct{}
	once    sync.Once
}

// drop ends the client's stream (it was too slow).
func (c *client) drop() { c.once.Do(func() { close(c.gone) }) }

// hub fans events out to the open streams.
type hub struct {
	max     int
	mu      sync.Mutex
	clients map[*client]bool
}

func newHub(max int) *hub { return &hub{max: max, clients: map[*client]bool{}} }

// join adds a stream; nil when there are too many.
func (h *hub) join(m *tocsinv1.Member) *client {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.max {
		return nil
	}
	c := &client{member: m, liaison: members.HasRole(m, tocsinv1.Role_ROLE_LIAISON), ch: make(chan event, 64), gone: make(chan struct{})}
	h.clients[c] = true
	return c
}

func (h *hub) leave(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// broadcast sends ev to every stream allowed to see it; a stream whose
// buffer is full is dropped (its page reconnects and reloads).
func (h *hub) broadcast(ev event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if (ev.liaison && !c.liaison) || (ev.message != nil && !ev.message.Visible(c.member)) || (ev.to != nil && !ev.to(c)) {
			continue
		}
		select {
		case c.ch <- ev:
		default:
			c.drop()
		}
	}
}

// Run feeds the event streams from the store and the REACH bucket until
// ctx ends; the open streams end with it. Call it once.
func (s *Server) Run(ctx context.Context) error {
	defer close(s.stopped)
	events, cancel := s.d.Store.Subscribe(1024)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() { s.followReach(wctx) })
	wg.Go(func() { s.followSightings(wctx) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			data, _ := json.Marshal(summaryOf(ev.Message))
			s.hub.broadcast(event{name: "message", data: data, message: &ev})
		}
	}
}

// receiptEvent is a member's own receipts of a message, as recorded.
type receiptEvent struct {
	ID           string    `json:"id"`
	Member       string    `json:"member"`
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Actioned     time.Time `json:"actioned,omitzero"`
}

// followReach tells the liaisons' streams when a receipt changes a reach
// set ({"id": message id, "member": member}, for each member the write
// changed: records.ReachSet.Changed), and the member's own streams
// ("receipt", a receiptEvent): its queue changes.
func (s *Server) followReach(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := s.d.Reach.WatchAll(ctx, jetstream.UpdatesOnly())
		if err == nil {
			for e := range w.Updates() {
				if e == nil {
					continue
				}
				s.tellReach(e)
			}
			_ = w.Stop()
		} else {
			s.log.Debug("reach watch", zap.Error(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// events is GET api/events: a server-sent event stream of the messages
// the member may see ("message"), the member's own receipts as the router
// records them ("receipt"), new sighting counts of alerts it may see
// ("sighting") and, for the liaison, reach changes ("reach"). It ends when the member's credentials stop working.
func (s *Server) events(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	rc := http.NewResponseController(w)
	c := s.hub.join(id.Member)
	if c == nil {
		w.Header().Set("Retry-After", "10")
		apiError(w, http.StatusServiceUnavailable, "too many open event streams; try again shortly")
		return
	}
	defer s.hub.leave(c)
	if m := s.d.Metrics; m != nil {
		m.Streams.Add(1)
		defer m.Streams.Add(-1)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: connected\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopped:
			return
		case <-c.gone:
			return
		case ev := <-c.ch:
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
		case <-tick.C:
			if _, err := s.d.Auth.Authenticate(r); err != nil {
				fmt.Fprint(w, "event: logout\ndata: {}\n\n")
				_ = rc.Flush()
				return
			}
			fmt.Fprint(w, ": ping\n\n")
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// tellReach broadcasts the changes of one write of a REACH set
// ("<sender>.<message id>.<sector>[.<shard>]").
func (s *Server) tellReach(e jetstream.KeyValueEntry) {
	_, rest, _ := strings.Cut(e.Key(), ".")
	id, _, _ := strings.Cut(rest, ".")
	var set records.ReachSet
	if json.Unmarshal(e.Value(), &set) != nil {
		return
	}
	for _, member := range set.Changed {
		data, _ := json.Marshal(map[string]string{"id": id, "member": member})
		s.hub.broadcast(event{name: "reach", data: data, liaison: true})
		rec, _ := set.Of(member)
		mine, _ := json.Marshal(receiptEvent{ID: id, Member: member, Acknowledged: rec.Acknowledged, Actioned: rec.Actioned})
		s.hub.broadcast(event{name: "receipt", data: mine, to: func(c *client) bool { return c.member.GetId() == member }})
	}
}
