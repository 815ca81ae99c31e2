package web

import (
	"net/http"
	"sync/atomic"
)

// Register mounts h (a *Web or a *Deferred) on mux: /taxii2/, /console/,
// /metrics, and / redirecting to the console.
func Register(mux *http.ServeMux, h http.Handler) {
	mux.Handle("/taxii2/", h)
	mux.Handle("/console/", h)
	mux.Handle("GET /metrics", h)
	mux.Handle("GET /{$}", h)
}

// Deferred is a handler for a web face built after the HTTP listener
// started: it answers 503 until Set.
type Deferred struct {
	w atomic.Pointer[Web]
}

// Set makes the web face serve.
func (d *Deferred) Set(w *Web) { d.w.Store(w) }

// ServeHTTP serves through the web face once it is set.
func (d *Deferred) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if w := d.w.Load(); w != nil {
		w.ServeHTTP(rw, r)
		return
	}
	rw.Header().Set("Retry-After", "2")
	http.Error(rw, "starting: the cluster is not ready yet", http.StatusServiceUnavailable)
}
