// Package taxii is Tocsin's TAXII 2.1 server (OASIS TAXII Version 2.1):
// discovery, one API root, and per caller the collections it may read
// (one per sector of its, its own direct inbox, the advisories of its
// sectors) with objects, manifest, object, versions and status endpoints,
// and POST objects, which turns a TLP-marked bundle into an alert of the
// caller, relayed and signed by the node.
//
// Every endpoint authenticates the caller as a member (webauth); every
// object is filtered for it by the store, so no query form reads an
// AMBER+STRICT or RED object not addressed to the caller.
package taxii

import (
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/web/relay"
	"github.com/tocsin-project/tocsin/web/store"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// Deps are what the TAXII server works with.
type Deps struct {
	// Store is the index of routed objects.
	Store *store.Store
	// Auth authenticates callers.
	Auth *webauth.Authenticator
	// Relay publishes POSTed bundles as the caller's alerts.
	Relay *relay.Relay
	// Validator reads a POSTed bundle's TLP markings; nil refuses POSTs.
	Validator *stix.Validator
	// Status is the TAXIISTATUS bucket (web.BucketConfigs).
	Status jetstream.KeyValue
}

// Options configure the TAXII server.
type Options struct {
	// Prefix is where discovery lives. Default "/taxii2/".
	Prefix string
	// Title is the discovery and API root title. Default "Tocsin".
	Title string
	// Contact is the discovery resource's contact. Default "".
	Contact string
	// MaxContentLength is the largest POST body accepted (413 beyond).
	// Default 960 KiB: the bundle travels in a signed envelope of at most
	// 1 MiB.
	MaxContentLength int64
	// PageSize is the page size when the client gives no limit. Default 100.
	PageSize int
	// MaxPageSize is the largest limit honoured. Default 1000.
	MaxPageSize int
	// PostWait is how long a POST waits for the router's outcome before
	// answering with a pending status. Default 1s.
	PostWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "/taxii2/"
	}
	if o.Title == "" {
		o.Title = "Tocsin"
	}
	if o.MaxContentLength == 0 {
		o.MaxContentLength = 960 << 10
	}
	if o.PageSize == 0 {
		o.PageSize = 100
	}
	if o.MaxPageSize == 0 {
		o.MaxPageSize = 1000
	}
	if o.PostWait == 0 {
		o.PostWait = time.Second
	}
	return o
}

// apiRoot is the only API root's path segment.
const apiRoot = "tocsin"

// Server serves TAXII 2.1.
type Server struct {
	d    Deps
	opts Options
	log  *zap.Logger
	mux  *http.ServeMux
}

// New returns the TAXII server.
func New(d Deps, opts Options, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{d: d, opts: opts.withDefaults(), log: log.Named("taxii"), mux: http.NewServeMux()}
	p := s.opts.Prefix
	root := p + apiRoot + "/"
	coll := root + "collections/{collection}/"
	routes := []struct {
		pattern string
		h       func(http.ResponseWriter, *http.Request, *tocsinv1.Member)
	}{
		{"GET " + p + "{$}", s.discovery},
		{"GET " + root + "{$}", s.apiRootResource},
		{"GET " + root + "collections/{$}", s.collectionsResource},
		{"GET " + coll + "{$}", s.collectionResource},
		{"GET " + coll + "objects/{$}", s.objects},
		{"POST " + coll + "objects/{$}", s.add},
		{"GET " + coll + "manifest/{$}", s.manifest},
		{"GET " + coll + "objects/{object}/{$}", s.object},
		{"GET " + coll + "objects/{object}/versions/{$}", s.versions},
		{"GET " + root + "status/{status}/{$}", s.status},
	}
	for _, rt := range routes {
		s.mux.HandleFunc(rt.pattern, s.guard(rt.h))
	}
	s.mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "not found", r.URL.Path+" is not a TAXII 2.1 endpoint of this server; URLs end with /")
	})
	return s
}

// ServeHTTP serves every TAXII endpoint under Prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// guard authenticates, checks Accept and waits for the store.
func (s *Server) guard(h func(http.ResponseWriter, *http.Request, *tocsinv1.Member)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.d.Auth.Authenticate(r)
		switch {
		case errors.Is(err, webauth.ErrPlainHTTP):
			fail(w, http.StatusForbidden, "https required", err.Error())
			return
		case err != nil:
			fail(w, http.StatusUnauthorized, "authentication required", err.Error())
			return
		}
		if !acceptable(r) {
			fail(w, http.StatusNotAcceptable, "not acceptable", "this server answers "+MediaTAXII+"; send it in Accept")
			return
		}
		if !s.d.Store.IsReady() {
			w.Header().Set("Retry-After", "2")
			fail(w, http.StatusServiceUnavailable, "starting", "the node is still reading the routed alerts; retry shortly")
			return
		}
		h(w, r, id.Member)
	}
}

// baseURL is the scheme and host the client used.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// discovery is GET /taxii2/.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request, _ *tocsinv1.Member) {
	root := baseURL(r) + s.opts.Prefix + apiRoot + "/"
	writeJSON(w, http.StatusOK, map[string]any{
		"title":       s.opts.Title,
		"description": "Tocsin, the healthcare sector's cyber early-warning channel: routed alerts and advisories as STIX 2.1",
		"contact":     s.opts.Contact,
		"default":     root,
		"api_roots":   []string{root},
	})
}

// apiRootResource is GET /taxii2/tocsin/.
func (s *Server) apiRootResource(w http.ResponseWriter, r *http.Request, _ *tocsinv1.Member) {
	writeJSON(w, http.StatusOK, map[string]any{
		"title":              s.opts.Title,
		"description":        "alerts of your sectors, your direct inbox and the liaison's advisories",
		"versions":           []string{MediaTAXII},
		"max_content_length": s.opts.MaxContentLength,
	})
}
