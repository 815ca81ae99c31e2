package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// ReceiptRequest is the body of POST /receipt.
type ReceiptRequest struct {
	// ID is the alert or advisory the receipt is for.
	ID string `json:"id"`
	// State is "acknowledged" or "actioned" ("delivered" is the agent's).
	State string `json:"state"`
	// Note is optional free text.
	Note string `json:"note,omitempty"`
}

// SightingRequest is the body of POST /sighting.
type SightingRequest struct {
	// Indicator is the STIX id of the indicator seen ("indicator--...").
	Indicator string `json:"indicator"`
	// Count is how many times it was seen (default 1).
	Count uint32 `json:"count,omitempty"`
	// FirstSeen and LastSeen bound the sightings (default now).
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Named agrees to be named to the originator.
	Named bool `json:"named,omitempty"`
}

// Queued is the answer to a POST: the envelope id of what was queued.
type Queued struct {
	ID string `json:"id"`
}

// serveHTTP starts the local endpoint:
//
//	GET  /healthz        the agent's State (200 when connected, else 503)
//	GET  /alerts?n=N     the last N records written (default 20), newest first
//	POST /receipt        a ReceiptRequest: queued in the outbox (202)
//	POST /sighting       a SightingRequest: queued in the outbox (202)
func (a *Agent) serveHTTP() (*http.Server, error) {
	ln, err := net.Listen("tcp", a.opts.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: http: cannot listen on %s: %v", ErrOptions, a.opts.HTTPAddr, err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		a.log.Warn("the agent's HTTP endpoint is not on loopback: anyone who reaches it can send receipts and sightings as this member",
			zap.String("addr", ln.Addr().String()))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /alerts", a.alerts)
	mux.HandleFunc("POST /receipt", a.postReceipt)
	mux.HandleFunc("POST /sighting", a.postSighting)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http endpoint stopped", zap.Error(err))
		}
	}()
	a.status.say("http endpoint on http://%s", ln.Addr())
	return srv, nil
}

// HTTPState returns the agent's state as /healthz shows it.
func (a *Agent) HTTPState() State {
	s := a.status.snapshot()
	if out := a.out.Load(); out != nil {
		s.Outbox = out.pending()
	}
	if a.inv != nil {
		s.Inventory = a.inv.state.Load()
	}
	return s
}

func (a *Agent) healthz(w http.ResponseWriter, _ *http.Request) {
	s := a.HTTPState()
	code := http.StatusOK
	if s.State == "disconnected" || s.State == "starting" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, s)
}

func (a *Agent) alerts(w http.ResponseWriter, r *http.Request) {
	n := 20
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "n is a positive number"})
			return
		}
	}
	writeJSON(w, http.StatusOK, a.recent.last(n))
}

func (a *Agent) postReceipt(w http.ResponseWriter, r *http.Request) {
	var req ReceiptRequest
	if !readJSON(w, r, &req) {
		return
	}
	state, err := ParseReceiptState(req.State)
	if err == nil && state == tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED {
		err = errors.New("the agent sends delivered receipts itself; post acknowledged or actioned")
	}
	var id string
	if err == nil {
		id, err = a.Receipt(req.ID, state, req.Note)
	}
	answer(w, id, err)
}

func (a *Agent) postSighting(w http.ResponseWriter, r *http.Request) {
	var req SightingRequest
	if !readJSON(w, r, &req) {
		return
	}
	s := &tocsinv1.Sighting{IndicatorId: req.Indicator, Count: req.Count, Named: req.Named}
	if !req.FirstSeen.IsZero() {
		s.FirstSeen = timestamppb.New(req.FirstSeen)
	}
	if !req.LastSeen.IsZero() {
		s.LastSeen = timestamppb.New(req.LastSeen)
	}
	id, err := a.Sighting(s)
	answer(w, id, err)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body is not the expected JSON: " + err.Error()})
		return false
	}
	return true
}

func answer(w http.ResponseWriter, id string, err error) {
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, Queued{ID: id})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
