package server

import (
	"time"

	"github.com/tocsin-project/tocsin/web/metrics"
)

// observeRouters makes every local router report to the HTTP face's
// metrics (tocsin_router_*), and to Options.Router.Observe if one is set.
func (s *Server) observeRouters() {
	s.routerMetrics = metrics.NewRouter()
	own := s.opts.Router.Observe
	s.opts.Router.Observe = func(kind string, took time.Duration, err error) {
		s.routerMetrics.Observe(kind, took, err)
		if own != nil {
			own(kind, took, err)
		}
	}
}
