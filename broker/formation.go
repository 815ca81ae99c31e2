package broker

import (
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// DefaultFormationGrace is how long a starting node's formation messages
// are logged at info level at most (NodeOptions.FormationGrace).
const DefaultFormationGrace = 30 * time.Second

// formationMessages begin what nats-server logs, as errors and warnings,
// while a node meets its peers: a route dialled before the peer listens,
// a raft group or the meta layer waiting for the routes. While the node
// forms they are normal and are logged at info level.
var formationMessages = []string{
	"Error trying to connect to route",
	"Waiting for routing to be established",
	"JetStream has not established contact with a meta leader",
	"JetStream is not current with the meta leader",
}

// formationMessage reports whether m is one of formationMessages.
func formationMessage(m string) bool {
	for _, p := range formationMessages {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

// watchFormation ends the node's formation: once it has a route to each of
// its configured peers and JetStream is current with the meta leader, or
// once grace has passed, in which case it warns with what is missing. From
// then on the formation messages are logged at their own level.
func (n *Node) watchFormation(peers int, grace time.Duration) {
	defer n.formed.Store(true)
	start := time.Now()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stopWatch:
			return
		case <-t.C:
		}
		routes := n.srv.NumRemotes()
		current := n.srv.JetStreamEnabled() && (!n.srv.JetStreamIsClustered() || n.srv.JetStreamIsCurrent())
		if routes >= peers && current {
			n.log.Info("node formed: a route to every peer, jetstream current", zap.Duration("after", time.Since(start).Round(time.Millisecond)))
			return
		}
		if time.Since(start) >= grace {
			what := fmt.Sprintf("routes to %d of its %d peers", routes, peers)
			if routes >= peers {
				what = "no jetstream meta leader"
			}
			n.log.Warn(fmt.Sprintf("node %q has %s after %s: check that the other nodes run and that their route ports are reachable; route errors are logged as errors from now on",
				n.opts.Name, what, grace))
			return
		}
	}
}
