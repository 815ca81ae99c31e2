package chaos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tocsin-project/tocsin/subjects"
)

// The regions of the regions layout (deploy/regions, docs/REGIONS.md).
const (
	// regionEast holds a stream set and the member registry
	// (gateway.registry_region): admissions wait while it is away.
	regionEast = "east"
	// regionWest holds a stream set; its registry is a mirror of east's.
	regionWest = "west"
	// regionWitness is one node that only votes in the meta group.
	regionWitness = "witness"
)

// nodeSpec is one node of a layout.
type nodeSpec struct{ name, region string }

// layout is which nodes a run's cluster has, in which regions, which
// regions hold a stream set, and whether they listen for member sites.
type layout struct {
	nodes []nodeSpec
	// sets are the regions that each hold their own stream set
	// (gateway.regions); none in one cluster.
	sets []string
	// registry is the region the member registry is written in
	// (gateway.registry_region); "" in one cluster.
	registry string
	// leaf opens a leaf listener on every node, for sites.
	leaf bool
}

// oneCluster is the three nodes chaos-1..3 of one cluster.
func oneCluster(leaf bool) layout {
	var l layout
	for i := range nodeCount {
		l.nodes = append(l.nodes, nodeSpec{name: fmt.Sprintf("chaos-%d", i+1)})
	}
	l.leaf = leaf
	return l
}

// regionsLayout is deploy/regions on loopback: east and west of three
// nodes each, each region with its own stream set (INGEST-east,
// SECTORS-east, ...; the registry written in east), joined by gateways to
// each other and to a one-node witness that holds none.
func regionsLayout(leaf bool) layout {
	l := layout{sets: []string{regionEast, regionWest}, registry: regionEast, leaf: leaf}
	for _, r := range l.sets {
		for i := range nodeCount {
			l.nodes = append(l.nodes, nodeSpec{name: fmt.Sprintf("%s-%d", r, i+1), region: r})
		}
	}
	l.nodes = append(l.nodes, nodeSpec{name: regionWitness + "-1", region: regionWitness})
	return l
}

// regions reports whether the layout is a supercluster.
func (l layout) regions() bool { return len(l.sets) > 0 }

// regionNames are the layout's regions in order.
func (l layout) regionNames() []string {
	var out []string
	for _, n := range l.nodes {
		if len(out) == 0 || out[len(out)-1] != n.region {
			out = append(out, n.region)
		}
	}
	return out
}

// homeOf is member's home region (docs/REGIONS.md, "Members' consumers
// and reads in their home region"): "" in one cluster. In regions every
// member needs one (no stream takes a member's ingest without it): the
// n-th publisher and the n-th agent go to the sets in turn (pub-1 and
// agt-1 east, agt-2 west, ...), so that either region's loss takes
// members of the run; every other member (the bad-input sender) is homed
// in the first.
func (l layout) homeOf(member string) string {
	if !l.regions() {
		return ""
	}
	for _, prefix := range []string{"pub-", "agt-"} {
		if n, err := strconv.Atoi(strings.TrimPrefix(member, prefix)); strings.HasPrefix(member, prefix) && err == nil && n > 0 {
			return l.sets[(n-1)%len(l.sets)]
		}
	}
	return l.sets[0]
}

// streamOf is the name of stream (or bucket) name of member's home
// region's set: INGEST-west for a member homed in west, INGEST in one
// cluster.
func (l layout) streamOf(name, member string) string {
	return subjects.RegionStream(name, l.homeOf(member))
}
