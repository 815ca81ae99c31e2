// Package pdtest is a PagerDuty Events API v2 endpoint in process, for
// tests and benchmarks: it checks each event as PagerDuty does (routing
// key, action, dedup key, a trigger's summary, source and severity),
// answers 202 with the dedup_key, and keeps every event it accepted.
package pdtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// Event is one accepted event.
type Event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary       string            `json:"summary"`
		Source        string            `json:"source"`
		Severity      string            `json:"severity"`
		CustomDetails map[string]string `json:"custom_details"`
	} `json:"payload"`
	// At is when it arrived.
	At time.Time `json:"-"`
}

// Server is the endpoint.
type Server struct {
	*httptest.Server
	key string

	mu     sync.Mutex
	events []Event
	fail   int // answer 429 to this many more events
	notify chan struct{}
}

// New starts an endpoint that accepts events with routing key key.
func New(key string) *Server {
	s := &Server{key: key, notify: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the enqueue endpoint.
func (s *Server) EnqueueURL() string { return s.Server.URL + "/v2/enqueue" }

// FailNext makes the next n events get 429 Too Many Requests.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

// Events is every accepted event so far.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Changed is signalled after each accepted event.
func (s *Server) Changed() <-chan struct{} { return s.notify }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	answer := func(code int, v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		answer(http.StatusNotFound, map[string]any{"status": "not found"})
		return
	}
	var ev Event
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		answer(http.StatusBadRequest, map[string]any{"status": "invalid event", "errors": []string{err.Error()}})
		return
	}
	var problems []string
	if ev.RoutingKey != s.key {
		problems = append(problems, "'routing_key' is invalid")
	}
	switch ev.EventAction {
	case "trigger":
		switch {
		case ev.Payload == nil:
			problems = append(problems, "'payload' is missing")
		case ev.Payload.Summary == "" || len(ev.Payload.Summary) > 1024:
			problems = append(problems, "'payload.summary' is missing or over 1024 characters")
		case ev.Payload.Source == "":
			problems = append(problems, "'payload.source' is missing")
		case !slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity):
			problems = append(problems, "'payload.severity' is invalid")
		}
	case "acknowledge", "resolve":
		if ev.DedupKey == "" {
			problems = append(problems, "'dedup_key' is required")
		}
	default:
		problems = append(problems, "'event_action' is invalid")
	}
	if len(problems) > 0 {
		answer(http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": problems})
		return
	}
	s.mu.Lock()
	if s.fail > 0 {
		s.fail--
		s.mu.Unlock()
		answer(http.StatusTooManyRequests, map[string]any{"status": "throttle event", "message": "Requests for this service are arriving too quickly."})
		return
	}
	ev.At = time.Now()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	answer(http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}
