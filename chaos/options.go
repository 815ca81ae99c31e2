package chaos

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ErrOptions is wrapped by every problem found in Options.
var ErrOptions = errors.New("invalid chaos options")

// Options configures a run. The zero value of every field but Binary and
// Dir is a sensible default.
type Options struct {
	// Binary is the tocsin executable that runs the nodes, agents and
	// tools. Required.
	Binary string
	// Dir is the run's directory: keys, configs, stores, logs, sinks,
	// publisher logs. Required; it should be new or empty.
	Dir string
	// Duration is how long the nemesis injects faults; it always runs
	// every fault of Faults at least once. Default 3m.
	Duration time.Duration
	// Seed makes the order of faults, their victims and the workload
	// repeatable. Default 1.
	Seed int64
	// Sync is the nodes' sync_interval: "always" (default) or a duration
	// such as "2m" (the NATS default).
	Sync string
	// Agents is how many member agents run. Default 4.
	Agents int
	// Publishers is how many members publish alerts. Default 3.
	Publishers int
	// Rate is the alerts a second each publisher sends. Default 4.
	Rate float64
	// Hold is how long each fault lasts before it is healed. Default 8s.
	Hold time.Duration
	// Recovery bounds the wait for a caught-up cluster after each heal;
	// a slower recovery is reported, not lost. Default 90s.
	Recovery time.Duration
	// Drain bounds the final wait for every acknowledged alert to reach
	// its sinks; what is still missing then is lost. Default 2m.
	Drain time.Duration
	// Faults are the faults to inject, by name (see FaultNames). Default
	// DefaultFaults (all but the power loss and the region faults), and
	// RegionFaults with Regions; without sites, no site fault.
	Faults []string
	// Regions runs the cluster as deploy/regions on loopback: regions east
	// and west of three nodes each, each with its own stream set
	// (gateway.regions; the registry written in east), and a one-node
	// witness, joined by gateways through proxies; the members are homed
	// in east and west in turn. The node faults hit any node of east or
	// west. Default false: one cluster of three nodes.
	Regions bool
	// Sites is how many of the agents' members run a member site (`tocsin
	// site`, a leaf node of the hub): their agent connects to the site and
	// they also publish there, at half Rate. Default 2.
	Sites int
	// NoSites runs no site (and no site fault).
	NoSites bool
	// SiteCut is how long a site's WAN cut lasts. Default 2m.
	SiteCut time.Duration
	// SlowLink is the bytes a second each way of a slow site link.
	// Default 6,250 (50 kbit/s).
	SlowLink int
	// SlowDelivery is the longest an acknowledged alert may take to reach
	// a sink before the run fails: room for a router's and an agent's ack
	// wait (10s each), a handling given up (20s) and a node's restart on a
	// loaded machine, several times over. Default 90s.
	SlowDelivery time.Duration
	// Latency is what the latency fault adds to every route, each way.
	// Default 150ms.
	Latency time.Duration
	// NoBadInput turns the bad-input campaign off.
	NoBadInput bool
	// BadBytesPerSecond paces the large pieces of bad input (16 KiB and
	// more), which INGEST keeps for 7 days and so fill the run's disk; the
	// small ones go at full speed. Default 128 KiB/s.
	BadBytesPerSecond int
	// Progress receives one line per event of the run. Default none.
	Progress io.Writer
}

// withDefaults fills the zero fields and checks the others.
func (o Options) withDefaults() (Options, error) {
	bad := func(format string, v ...any) (Options, error) {
		return o, fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, v...))
	}
	switch {
	case o.Binary == "":
		return bad("the tocsin binary is required")
	case o.Dir == "":
		return bad("a run directory is required")
	case o.Duration < 0 || o.Hold < 0 || o.Recovery < 0 || o.Drain < 0 || o.Rate < 0 || o.SlowDelivery < 0 || o.Agents < 0 || o.Publishers < 0 || o.Latency < 0 ||
		o.Sites < 0 || o.SiteCut < 0 || o.SlowLink < 0:
		return bad("durations, rate and counts cannot be negative; use 0 for the defaults")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Duration, 3*time.Minute)
	def(&o.Hold, 8*time.Second)
	def(&o.Recovery, 90*time.Second)
	def(&o.Drain, 2*time.Minute)
	def(&o.Latency, 150*time.Millisecond)
	def(&o.SlowDelivery, 90*time.Second)
	def(&o.SiteCut, 2*time.Minute)
	if o.SlowLink == 0 {
		o.SlowLink = 50_000 / 8
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Sync == "" {
		o.Sync = "always"
	}
	if o.Sync != "always" {
		if d, err := time.ParseDuration(o.Sync); err != nil || d <= 0 {
			return bad("sync %q: use \"always\" or a duration such as 2m", o.Sync)
		}
	}
	if o.Agents == 0 {
		o.Agents = 4
	}
	if o.Publishers == 0 {
		o.Publishers = 3
	}
	if o.Sites == 0 {
		o.Sites = 2
	}
	if o.NoSites {
		o.Sites = 0
	}
	o.Sites = min(o.Sites, o.Agents)
	if o.BadBytesPerSecond <= 0 {
		o.BadBytesPerSecond = 128 << 10
	}
	if o.Rate == 0 {
		o.Rate = 4
	}
	if len(o.Faults) == 0 {
		o.Faults = DefaultFaults()
		if o.Regions {
			o.Faults = append(o.Faults, RegionFaults()...)
		}
		if o.Sites == 0 {
			o.Faults = slices.DeleteFunc(o.Faults, func(f string) bool { return slices.Contains(SiteFaults(), f) })
		}
	}
	for _, f := range o.Faults {
		switch {
		case !slices.Contains(FaultNames(), f):
			return bad("fault %q: use %s", f, strings.Join(FaultNames(), ", "))
		case o.Sites == 0 && slices.Contains(SiteFaults(), f):
			return bad("fault %s needs a site: drop --no-sites (or --sites 0)", f)
		case !o.Regions && slices.Contains(RegionFaults(), f):
			return bad("fault %s needs regions: add --regions", f)
		}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, nil
}
