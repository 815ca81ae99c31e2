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
	// status is each incident's status by dedup key, and who changed it.
	status map[string][2]string
	fail   int // answer 429 to this many more events
	notify chan struct{}
}

// New starts an endpoint that accepts events with routing key key.
func New(key string) *Server {
	s := &Server{key: key, notify: make(chan struct{}, 1), status: map[string][2]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the enqueue endpoint.
func (s *Server) EnqueueURL() string { return s.Server.URL + "/v2/enqueue" }

// APIToken is the REST API token the endpoint's /incidents accepts.
const APIToken = "pdtest-api-token"

// APIURL is the REST API's base URL (GET /incidents?incident_key=KEY).
func (s *Server) APIURL() string { return s.Server.URL }

// AcknowledgeInPagerDuty acknowledges the incident of key as a person
// would in PagerDuty's app.
func (s *Server) AcknowledgeInPagerDuty(key, by string) {
	s.mu.Lock()
	s.status[key] = [2]string{"acknowledged", by}
	s.mu.Unlock()
}

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
	if r.Method == http.MethodGet && r.URL.Path == "/incidents" {
		s.incidents(w, r)
		return
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
	switch ev.EventAction {
	case "trigger":
		if _, ok := s.status[ev.DedupKey]; !ok {
			s.status[ev.DedupKey] = [2]string{"triggered", ""}
		}
	case "acknowledge":
		s.status[ev.DedupKey] = [2]string{"acknowledged", "Tocsin"}
	case "resolve":
		s.status[ev.DedupKey] = [2]string{"resolved", "Tocsin"}
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	answer(http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

// incidents answers the REST API's GET /incidents?incident_key=KEY.
func (s *Server) incidents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Token token="+APIToken {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "Unauthorized", "code": 2006}})
		return
	}
	key := r.URL.Query().Get("incident_key")
	s.mu.Lock()
	st, ok := s.status[key]
	s.mu.Unlock()
	incidents := []any{}
	if ok {
		who := map[string]string{"summary": st[1]}
		in := map[string]any{"incident_key": key, "status": st[0], "last_status_change_by": who}
		if st[0] == "acknowledged" {
			in["acknowledgements"] = []any{map[string]any{"acknowledger": who}}
		}
		incidents = append(incidents, in)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"incidents": incidents, "limit": 25, "offset": 0, "more": false})
}
