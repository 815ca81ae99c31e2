package server

import (
	"slices"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// A node of a supercluster whose regions each hold a stream set
// (gateway.regions, docs/REGIONS.md) provisions its region's set, gives its
// region to every service and reports its set's streams; a node of a
// region that holds none (a witness) provisions nothing and runs no
// service. Every other node (a single cluster, or a supercluster with one
// streams region) has region "" and the single cluster's names.

// shape is what of a node's options decides its streams: its region (its
// cluster name), its routes and its gateway. The zero shape is a dev
// cluster's or a single node's.
type shape struct {
	region  string
	routes  int
	gateway *broker.GatewayOptions
}

// shapeOf is the shape of a node with options o.
func shapeOf(o broker.NodeOptions) shape {
	return shape{region: o.ClusterName, routes: len(o.Routes), gateway: o.Gateway}
}

// shape is this node's; the zero shape for a dev cluster.
func (s *Server) shape() shape {
	if s.node == nil {
		return shape{}
	}
	return shapeOf(s.node.Options())
}

// replicas is the replica count of a node's streams: 3, or its cluster's
// size (itself and its routes) when smaller. A node of a supercluster that
// holds no stream in its own cluster (outside the streams region, or a
// witness) counts 3, the size of the regions that hold them: it checks
// their streams with it, and if it is the meta leader provisions them with
// it (a witness counting its one node never said ready).
func (sh shape) replicas() int {
	if sh.outsideStreamsRegion() || sh.holdsNoSet() {
		return 3
	}
	return min(3, 1+sh.routes)
}

// regionSet is the node's region's stream set; false off stream sets and
// on a witness.
func (sh shape) regionSet() (broker.RegionSet, bool) {
	if sh.gateway == nil {
		return broker.RegionSet{}, false
	}
	set, ok := sh.gateway.RegionSet(sh.region)
	set.Replicas = sh.replicas()
	return set, ok
}

// setRegion is the region whose set the node's services use: "" off
// stream sets.
func (sh shape) setRegion() string {
	if set, ok := sh.regionSet(); ok {
		return set.Region
	}
	return ""
}

// holdsNoSet reports a witness of a supercluster on stream sets: a vote in
// the meta group, no stream, no service.
func (sh shape) holdsNoSet() bool {
	return sh.gateway != nil && len(sh.gateway.Regions) > 0 && !slices.Contains(sh.gateway.Regions, sh.region)
}

// outsideStreamsRegion reports a node of a supercluster with one streams
// region that is not in it (west, the witness).
func (sh shape) outsideStreamsRegion() bool {
	return sh.gateway != nil && len(sh.gateway.Regions) == 0 && sh.gateway.StreamsRegion != sh.region
}

// streamNames are the streams the node provisions, waits for and reports:
// its region's set, none on a witness, else broker.StreamNames.
func (sh shape) streamNames() []string {
	if set, ok := sh.regionSet(); ok {
		return set.StreamNames()
	}
	if sh.holdsNoSet() {
		return nil
	}
	return broker.StreamNames()
}

// deadLetterBucket is the bucket of the node's region's dead letters; ""
// on a witness.
func (sh shape) deadLetterBucket() string {
	if sh.holdsNoSet() {
		return ""
	}
	return subjects.RegionStream(records.BucketDeadLetter, sh.setRegion())
}

// registryBucket is the bucket the node reads the registry from: MEMBERS,
// or outside the registry's region its region's mirror of it.
func (sh shape) registryBucket() string {
	if set, ok := sh.regionSet(); ok {
		return set.RegistryBucket()
	}
	return records.BucketMembers
}

// provisionsRegion reports whether this node provisions its region's set:
// the first by name of itself and the nodes of its region it has a route
// to, so that usually one node of each region creates the set while the
// others check it (concurrent creates only queue work on the meta leader).
// At a cold start a node may have no route yet and take itself for the
// first, so several nodes of a region may provision at once: that is safe,
// ProvisionRegion creates or updates each stream and bucket to one config,
// and start retries a call that timed out meanwhile
// (TestARegionsSetProvisionedByEveryNodeAtOnce: six at once, one set).
func (s *Server) provisionsRegion() bool {
	names := []string{s.node.Name()}
	if rz, err := s.node.Server().Routez(nil); err == nil {
		for _, r := range rz.Routes {
			names = append(names, r.RemoteName)
		}
	}
	return slices.Min(names) == s.node.Name()
}
