package server

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/deadletter"
)

// StatusReadTimeout bounds a node's reads of its streams' info when it
// answers tocsin.svc.status: `tocsin status` waits that long and a little
// more for every node's answer.
const StatusReadTimeout = 2 * time.Second

// NodeStatus is one node as a node of the cluster sees it.
type NodeStatus struct {
	// Name is the node's server name.
	Name string `json:"name"`
	// URL is its client URL, when known (a node only knows its own).
	URL string `json:"url,omitempty"`
	// Up is false when the JetStream meta group has not heard from it.
	Up bool `json:"up"`
}

// StreamStatus is one stream's health.
type StreamStatus struct {
	Name     string   `json:"name"`
	Replicas int      `json:"replicas"`
	Leader   string   `json:"leader"`
	Messages uint64   `json:"messages"`
	Bytes    uint64   `json:"bytes"`
	Lag      uint64   `json:"lag"`
	Offline  []string `json:"offline,omitempty"`
}

// Status is a node's view of the cluster: what `tocsin status` prints and
// what /readyz explains.
type Status struct {
	// Node is the node that answered.
	Node string `json:"node"`
	// Region is the region whose stream set the node reports, in a
	// supercluster whose regions each hold one (docs/REGIONS.md); "" on a
	// single cluster, with one streams region, and on a witness.
	Region string `json:"region,omitempty"`
	// Nodes is every node the cluster knows of.
	Nodes []NodeStatus `json:"nodes"`
	// MetaLeader is the JetStream meta leader's name, "" when there is none.
	MetaLeader string `json:"meta_leader"`
	// Streams is every Tocsin stream: on stream sets, the sets of the
	// regions whose nodes answered.
	Streams []StreamStatus `json:"streams"`
	// DeadLetters is how many messages of INGEST the services could not
	// decide after their retries: kept, tried again every 10 minutes, and
	// listed in the DEADLETTER bucket (docs/RELIABILITY.md); on stream
	// sets, summed over the regions whose nodes answered.
	DeadLetters uint64 `json:"dead_letters"`
	// Problems says, one line each, why the cluster is not fully healthy.
	Problems []string `json:"problems,omitempty"`
}

// nodeStatus reads node n's view of the cluster membership.
func nodeStatus(n *broker.Node) (*Status, error) {
	srv := n.Server()
	st := &Status{Node: n.Name()}
	st.Nodes = append(st.Nodes, NodeStatus{Name: n.Name(), URL: n.ClientURL(), Up: n.Running()})
	jsz, err := srv.Jsz(&server.JSzOptions{})
	if err != nil {
		return nil, fmt.Errorf("node %q: jetstream status: %w", n.Name(), err)
	}
	if jsz.Meta == nil {
		if srv.JetStreamIsClustered() {
			st.Problems = append(st.Problems, "jetstream meta group not formed yet")
		}
		return st, nil
	}
	st.MetaLeader = jsz.Meta.Leader
	if st.MetaLeader == "" {
		st.Problems = append(st.Problems, "no jetstream meta leader: fewer than a quorum of nodes can see each other")
	}
	for _, p := range jsz.Meta.Replicas {
		if p.Name == n.Name() {
			continue
		}
		st.Nodes = append(st.Nodes, NodeStatus{Name: p.Name, Up: !p.Offline})
		if p.Offline {
			st.Problems = append(st.Problems, fmt.Sprintf("peer %s is offline (last seen %s ago); the cluster keeps retrying it", p.Name, p.Active.Round(1e9)))
		}
	}
	st.Problems = append(st.Problems, missingRoutes(n)...)
	st.Problems = append(st.Problems, missingGateways(n)...)
	return st, nil
}

// missingRoutes names configured routes this node cannot reach, when the
// node has fewer routes than the configuration expects.
func missingRoutes(n *broker.Node) []string {
	routes := n.Options().Routes
	rz, err := n.Server().Routez(nil)
	if err != nil || len(routes) == 0 {
		return nil
	}
	peers := map[string]bool{}
	for _, r := range rz.Routes {
		peers[r.RemoteName] = true
	}
	if len(peers) >= len(routes) {
		return nil
	}
	connected := map[string]bool{}
	for _, r := range rz.Routes {
		if r.DidSolicit {
			connected[net.JoinHostPort(r.IP, strconv.Itoa(r.Port))] = true
		}
	}
	var out []string
	for _, r := range routes {
		u, err := url.Parse(r)
		if err != nil || connected[u.Host] {
			continue
		}
		out = append(out, fmt.Sprintf("route %s not connected (retrying): is that node up and reachable?", r))
	}
	return out
}

// streamStatus reads each named stream's info through the JetStream API.
func streamStatus(ctx context.Context, js jetstream.JetStream, names []string) ([]StreamStatus, []string) {
	var out []StreamStatus
	var problems []string
	for _, name := range names {
		s, err := js.Stream(ctx, name)
		if err != nil {
			problems = append(problems, fmt.Sprintf("stream %s: %v", name, err))
			continue
		}
		info := s.CachedInfo()
		ss := StreamStatus{Name: name, Replicas: info.Config.Replicas, Messages: info.State.Msgs, Bytes: info.State.Bytes}
		if c := info.Cluster; c != nil {
			ss.Leader = c.Leader
			for _, r := range c.Replicas {
				ss.Lag = max(ss.Lag, r.Lag)
				if r.Offline {
					ss.Offline = append(ss.Offline, r.Name)
				}
			}
		}
		if ss.Leader == "" && info.Cluster != nil {
			problems = append(problems, fmt.Sprintf("stream %s has no leader", name))
		}
		out = append(out, ss)
	}
	return out, problems
}

// streamsAndDeadLetters fills st's streams and dead-letter count: this
// node's region's set on stream sets (docs/REGIONS.md), none on a witness.
func (s *Server) streamsAndDeadLetters(ctx context.Context, js jetstream.JetStream, st *Status) {
	st.Region = s.shape().setRegion()
	var problems []string
	st.Streams, problems = streamStatus(ctx, js, s.shape().streamNames())
	st.Problems = append(st.Problems, problems...)
	if b := s.shape().deadLetterBucket(); b != "" {
		st.DeadLetters, _ = deadletter.CountIn(ctx, js, b) // a missing bucket is a stream problem already
	}
}

// Merge combines the answers of several nodes into one cluster view: a
// node is up if it answered or a peer sees it; URLs come from each node
// itself.
func Merge(answers []*Status) *Status {
	if len(answers) == 0 {
		return &Status{Problems: []string{"no node answered"}}
	}
	merged := &Status{Node: answers[0].Node, Region: answers[0].Region}
	nodes := map[string]*NodeStatus{}
	seen := map[string]bool{}
	// One answer's streams and dead letters per region: the nodes of a
	// region report the same set (a single cluster's all have region ""),
	// the one that listed the most of it (a node whose stream reads timed
	// out lists fewer); a witness, or a node not started yet, lists none.
	best := map[string]*Status{}
	var regions []string
	for _, a := range answers {
		cur, ok := best[a.Region]
		if !ok {
			regions = append(regions, a.Region)
		}
		if !ok || len(a.Streams) > len(cur.Streams) {
			best[a.Region] = a
		}
	}
	for _, r := range regions {
		merged.Streams = append(merged.Streams, best[r].Streams...)
		merged.DeadLetters += best[r].DeadLetters
	}
	for _, a := range answers {
		if merged.MetaLeader == "" {
			merged.MetaLeader = a.MetaLeader
		}
		for _, n := range a.Nodes {
			cur, ok := nodes[n.Name]
			if !ok {
				c := n
				nodes[n.Name] = &c
				continue
			}
			cur.Up = cur.Up || n.Up
			if n.URL != "" {
				cur.URL = n.URL
			}
		}
		for _, p := range a.Problems {
			if !seen[p] {
				seen[p] = true
				merged.Problems = append(merged.Problems, p)
			}
		}
	}
	for _, n := range nodes {
		merged.Nodes = append(merged.Nodes, *n)
	}
	sort.Slice(merged.Nodes, func(i, j int) bool { return merged.Nodes[i].Name < merged.Nodes[j].Name })
	return merged
}

// Serving reports whether the cluster can take writes: it has a meta
// leader and every stream has a leader. A cluster with a peer down is
// serving, and degraded (see Problems).
func (st *Status) Serving() bool {
	if st.MetaLeader == "" {
		return false
	}
	for _, s := range st.Streams {
		if s.Leader == "" {
			return false
		}
	}
	return true
}
