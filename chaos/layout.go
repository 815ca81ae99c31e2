package chaos

import "fmt"

// The regions of the regions layout (deploy/regions, docs/REGIONS.md).
const (
	// regionEast holds the channel's streams (gateway.streams_region).
	regionEast = "east"
	// regionWest serves members and runs every service, and holds no
	// stream: the region a region's loss takes.
	regionWest = "west"
	// regionWitness is one node that only votes in the meta group.
	regionWitness = "witness"
)

// nodeSpec is one node of a layout.
type nodeSpec struct{ name, region string }

// layout is which nodes a run's cluster has, in which regions, where its
// streams live, and whether they listen for member sites.
type layout struct {
	nodes []nodeSpec
	// streams is the region that holds the streams ("" in one cluster).
	streams string
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
// nodes each, joined by gateways to each other and to a one-node witness;
// the streams live in east.
func regionsLayout(leaf bool) layout {
	l := layout{streams: regionEast, leaf: leaf}
	for _, r := range []string{regionEast, regionWest} {
		for i := range nodeCount {
			l.nodes = append(l.nodes, nodeSpec{name: fmt.Sprintf("%s-%d", r, i+1), region: r})
		}
	}
	l.nodes = append(l.nodes, nodeSpec{name: regionWitness + "-1", region: regionWitness})
	return l
}

// regions reports whether the layout is a supercluster.
func (l layout) regions() bool { return l.streams != "" }

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
