// Package console is the web console for liaisons and SOC analysts, served
// by every node: a login with the member's access token, a live alert
// board (server-sent events) of what the member may see, each alert with
// its STIX objects, verified sender and TLP, advisories with their reach,
// the mutual-aid board, the regional situation board and the cluster's
// health. The pages are plain HTML, CSS and JavaScript embedded in the
// binary (no CDN, no build step); they call the JSON API under api/.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/internal/respond"
	"github.com/tocsin-project/tocsin/web/metrics"
	"github.com/tocsin-project/tocsin/web/relay"
	"github.com/tocsin-project/tocsin/web/store"
	"github.com/tocsin-project/tocsin/web/webauth"
)

//go:embed static
var static embed.FS

// Registry is what the console reads of the member registry;
// *members.Registry is one.
type Registry interface {
	// Member returns a member's record.
	Member(ctx context.Context, id string) (*tocsinv1.Member, error)
	// InSectors returns the active members of any of sectors.
	InSectors(sectors []string) []*tocsinv1.Member
}

// Deps are what the console works with.
type Deps struct {
	// JS is a JetStream context on the node's service connection: it
	// reads members' receipts (REACH, by direct get) and the sighting
	// summaries routed to the sectors.
	JS jetstream.JetStream
	// Verifier verifies the sighting summaries (signed by a node's
	// service member).
	Verifier *envelope.Verifier
	// Store is the index of routed alerts and advisories.
	Store *store.Store
	// Auth authenticates and logs members in.
	Auth *webauth.Authenticator
	// Relay publishes receipts and aid decisions made in the console.
	Relay *relay.Relay
	// Registry is the member registry.
	Registry Registry
	// Reach is the REACH bucket (receipts by message and member).
	Reach jetstream.KeyValue
	// Aid is the mutual-aid read path; nil shows the aid and situation
	// pages as unavailable.
	Aid Aid
	// Status returns the cluster's status as JSON-encodable data (the
	// server's Status); nil hides it.
	Status func(ctx context.Context) (any, error)
	// Metrics counts open event streams; nil counts nothing.
	Metrics *metrics.Web
}

// Options configure the console.
type Options struct {
	// Prefix is where the console lives. Default "/console/".
	Prefix string
	// MaxStreams bounds the open event streams. Default 500.
	MaxStreams int
	// Heartbeat is how often an idle event stream gets a comment, so that
	// proxies keep it open. Default 15s.
	Heartbeat time.Duration
	// Region is the node's region in a supercluster whose regions each
	// hold a stream set (docs/REGIONS.md): the console reads its region's
	// REACH-<region>, SITES-<region> and the sighting summaries of every
	// region in SECTORS-<region> and INBOX-<region>. Default "": a single
	// cluster's.
	Region string
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "/console/"
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = 500
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 15 * time.Second
	}
	return o
}

// Server serves the console.
type Server struct {
	d    Deps
	opts Options
	log  *zap.Logger
	mux  *http.ServeMux
	hub  *hub
	// sightings are the sighting counts of the alerts, by sector.
	sightings *sightings
	// siteKV is the SITES bucket, opened on first use.
	siteKV siteBucket
	// stopped is closed when Run ends: open event streams end with it, so
	// that the HTTP server's shutdown does not wait for them.
	stopped chan struct{}
}

// ErrDeps is wrapped when New is given incomplete Deps.
var ErrDeps = errors.New("console: incomplete deps")

// New returns the console; Run feeds its event streams.
func New(d Deps, opts Options, log *zap.Logger) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if d.JS == nil || d.Verifier == nil || d.Store == nil || d.Auth == nil || d.Relay == nil || d.Registry == nil || d.Reach == nil {
		return nil, fmt.Errorf("%w: needs JS, Verifier, Store, Auth, Relay, Registry and Reach", ErrDeps)
	}
	s := &Server{d: d, opts: opts.withDefaults(), log: log.Named("console"), mux: http.NewServeMux(), stopped: make(chan struct{}), sightings: newSightings()}
	s.hub = newHub(s.opts.MaxStreams)
	p := s.opts.Prefix
	api := p + "api/"
	files, _ := fs.Sub(static, "static")
	s.mux.Handle("GET "+p, http.StripPrefix(p, s.assets(http.FileServerFS(files))))
	s.mux.HandleFunc("POST "+api+"login", s.login)
	s.mux.HandleFunc("POST "+api+"logout", func(w http.ResponseWriter, r *http.Request) {
		webauth.Logout(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
	for _, rt := range []struct {
		pattern string
		h       func(http.ResponseWriter, *http.Request, *webauth.Identity)
	}{
		{"GET " + api + "me", s.me},
		{"GET " + api + "messages", s.messages},
		{"GET " + api + "queue", s.queue},
		{"GET " + api + "messages/{id}", s.message},
		{"POST " + api + "messages/{id}/receipt", s.receipt},
		{"GET " + api + "reach/{id}", s.reach},
		{"GET " + api + "events", s.events},
		{"GET " + api + "aid", s.aidList},
		{"GET " + api + "aid/{id}", s.aidShow},
		{"POST " + api + "aid/{id}/decision", s.aidDecision},
		{"GET " + api + "situation", s.situation},
		{"GET " + api + "health", s.health},
		{"GET " + api + "sites", s.sites},
	} {
		s.mux.HandleFunc(rt.pattern, s.guard(rt.h))
	}
	return s, nil
}

// ServeHTTP serves the console under Prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// assets serves the embedded files, never cached across versions.
func (s *Server) assets(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// csrfHeader must be on every state-changing call: a cross-site form
// cannot set it, and a cross-site script cannot without a CORS grant.
const csrfHeader = "X-Tocsin-Console"

// guard authenticates API calls (session cookie, or a token for scripts).
func (s *Server) guard(h func(http.ResponseWriter, *http.Request, *webauth.Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.d.Auth.Authenticate(r)
		switch {
		case errors.Is(err, webauth.ErrPlainHTTP):
			apiError(w, http.StatusForbidden, err.Error())
			return
		case err != nil:
			apiError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if r.Method != http.MethodGet && id.Kind == webauth.KindSession && r.Header.Get(csrfHeader) == "" {
			apiError(w, http.StatusForbidden, "missing the "+csrfHeader+" header")
			return
		}
		h(w, r, id)
	}
}

// login is POST api/login {member, token}.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(csrfHeader) == "" {
		apiError(w, http.StatusForbidden, "missing the "+csrfHeader+" header")
		return
	}
	var in struct{ Member, Token string }
	if !readJSON(w, r, &in, `{"member": ..., "token": ...}`) {
		return
	}
	id, err := s.d.Auth.Login(w, r, strings.TrimSpace(in.Member), in.Token)
	if errors.Is(err, webauth.ErrPlainHTTP) {
		apiError(w, http.StatusForbidden, err.Error())
		return
	}
	if err != nil {
		s.log.Info("console login refused", zap.String("member", in.Member), zap.Error(err))
		apiError(w, http.StatusUnauthorized, "member id or access token not accepted")
		return
	}
	s.log.Info("console login", zap.String("member", id.Member.GetId()))
	writeJSON(w, http.StatusOK, meOf(id.Member))
}

// me describes the logged-in member.
type me struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Sectors []string `json:"sectors"`
	Region  string   `json:"region"`
	Roles   []string `json:"roles"`
	Liaison bool     `json:"liaison"`
}

func meOf(m *tocsinv1.Member) me {
	out := me{ID: m.GetId(), Name: m.GetName(), Sectors: m.GetSectors(), Region: m.GetRegion(), Liaison: members.HasRole(m, tocsinv1.Role_ROLE_LIAISON)}
	for _, r := range m.GetRoles() {
		out.Roles = append(out.Roles, strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_")))
	}
	return out
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	writeJSON(w, http.StatusOK, meOf(id.Member))
}

// health is GET api/health: the cluster as the server sees it.
func (s *Server) health(w http.ResponseWriter, r *http.Request, _ *webauth.Identity) {
	if s.d.Status == nil {
		apiError(w, http.StatusNotFound, "this node does not report its status here")
		return
	}
	st, err := s.d.Status(r.Context())
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	stats := s.d.Store.Stats()
	writeJSON(w, http.StatusOK, map[string]any{"cluster": st, "index": map[string]any{
		"ready": s.d.Store.IsReady(), "messages": stats.Messages, "objects": stats.Entries, "refused": stats.Refused}})
}

// writeJSON answers v.
func writeJSON(w http.ResponseWriter, status int, v any) {
	respond.JSON(w, status, "application/json", v)
}

// readJSON decodes a small JSON body into v; on failure it answers 400
// with hint (the body expected) and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any, hint string) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "send "+hint)
		return false
	}
	return true
}

// apiError answers {"error": msg}.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
