package broker

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// DefaultFormationGrace is how long a starting node's formation messages
// are logged at info level at most (NodeOptions.FormationGrace).
const DefaultFormationGrace = 30 * time.Second

// formationMessages are in what nats-server logs, as errors and warnings,
// while a node meets its peers: a route dialled before the peer listens,
// a raft group or the meta layer waiting for the routes, or catching up
// after a restart. While the node forms they are normal and are logged at
// info level.
var formationMessages = []string{
	"Error trying to connect to route",
	"Error connecting to explicit gateway",
	"Waiting for routing to be established",
	"JetStream has not established contact with a meta leader",
	"JetStream is not current with the meta leader",
	"JetStream is still recovering meta layer",
	"Falling behind in health check",
	"Health check OK, no longer falling behind",
}

// stopMessages are in the errors nats-server logs while its peers stop
// with it: a write to a route whose peer has gone. A stopping node logs
// them at info level, as formation messages.
var stopMessages = []string{"Error flushing", "broken pipe", "connection reset by peer"}

// stopMessage reports whether m is one of stopMessages or formationMessages,
// or an in-process connection (nats-server's "pipe") of the node's own
// services refused while the node shuts its accounts down under it.
func stopMessage(m string) bool {
	if strings.Contains(m, "pipe - ") && strings.Contains(m, "authentication error") {
		return true
	}
	for _, p := range stopMessages {
		if strings.Contains(m, p) {
			return true
		}
	}
	return formationMessage(m)
}

// formationSettle is how long the formed condition must hold before the
// formation ends, so that what the server noticed just before (a raft
// group's last wait for routing) is still logged as formation.
const formationSettle = time.Second

// formationMessage reports whether m is one of formationMessages.
func formationMessage(m string) bool {
	for _, p := range formationMessages {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// watchFormation ends the node's formation: once it has had a route to
// each of its configured peers, a gateway to every other region (on a
// supercluster) and a healthy JetStream meta layer (what the server's own
// health check says) for formationSettle, or once grace
// has passed, in which case it warns with what is missing. From then on
// the formation messages are logged at their own level.
func (n *Node) watchFormation(peers int, grace time.Duration) {
	defer n.formed.Store(true)
	start := time.Now()
	var since time.Time // when the node was first seen formed
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stopWatch:
			return
		case <-t.C:
		}
		routes := n.srv.NumRemotes()
		meta := n.srv.JetStreamEnabled() && n.srv.Healthz(&server.HealthzOptions{JSMetaOnly: true}).Error == ""
		gateways := n.opts.Gateway == nil || n.srv.NumOutboundGateways() >= len(n.opts.Gateway.Remotes)
		switch {
		case routes < peers || !meta || !gateways:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= formationSettle:
			n.log.Info("node formed: a route to every peer, jetstream current", zap.Duration("after", since.Sub(start).Round(time.Millisecond)))
			return
		}
		if time.Since(start) >= grace {
			what := fmt.Sprintf("routes to %d of its %d peers", routes, peers)
			if routes >= peers {
				what = "every route but no healthy jetstream meta layer"
				if !gateways {
					what = "every route but not a gateway to every other region"
				}
			}
			n.log.Warn(fmt.Sprintf("node %q has %s after %s: check that the other nodes run and that their route ports are reachable; route errors are logged as errors from now on",
				n.opts.Name, what, grace))
			return
		}
	}
}
