// Package scale measures what grows with the number of members
// (`tocsin bench scale`, docs/PERFORMANCE.md "What grows with members"):
// for each size, a fresh cluster of three `tocsin node` processes in
// operator mode with member accounts, as production runs, the members
// admitted with tocsin members add, then the consumers and raft groups,
// the meta layer's load, a registry read, an agent's start, the REACH
// records of an advisory to all, the web face's first pages, and a
// node's failover and start-up, each read from the cluster itself.
package scale

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Options configure Run.
type Options struct {
	// Sizes are the member counts measured, each on a cluster of its own,
	// in this order. Required: each at least 1.
	Sizes []int
	// Binary is the tocsin binary the node processes and tocsin members add
	// run. Required.
	Binary string
	// DataDir holds each size's cluster (keys, stores, logs, credentials).
	// Required; Run leaves it for the caller to remove.
	DataDir string
	// Idle is how long the cluster is watched idle after admission (the
	// meta layer's entries, the nodes' CPU). Default 20s.
	Idle time.Duration
	// Senders is how many members send their receipts of the advisory at
	// once, each on its own connection as that member, and how many
	// members' consumers are created at once. Default 16.
	Senders int
	// ReachWait bounds the wait for the liaison's reach to show every
	// member delivered. Default 10m.
	ReachWait time.Duration
	// ResolverSync is the nodes' resolver_sync (how often each node's
	// account resolver compares its JWTs with another node's). Default:
	// the node's default (broker.DefaultResolverSync).
	ResolverSync time.Duration
	// Progress hears a line at each step. Default: nothing.
	Progress func(string)
}

// ErrOptions is wrapped when Options are incomplete or wrong.
var ErrOptions = errors.New("scale options")

func (o Options) withDefaults() (Options, error) {
	if len(o.Sizes) == 0 {
		return o, fmt.Errorf("%w: no sizes: give the member counts to measure, such as 1000,3000,10000", ErrOptions)
	}
	for _, n := range o.Sizes {
		if n < 1 {
			return o, fmt.Errorf("%w: size %d: a size is at least 1 member", ErrOptions, n)
		}
	}
	if o.Binary == "" || o.DataDir == "" {
		return o, fmt.Errorf("%w: the tocsin binary and a data directory are required", ErrOptions)
	}
	if o.Idle <= 0 {
		o.Idle = 20 * time.Second
	}
	if o.Senders <= 0 {
		o.Senders = 16
	}
	if o.ReachWait <= 0 {
		o.ReachWait = 10 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return o, nil
}

// Result is every size's point.
type Result struct {
	Points []Point `json:"points"`
}

// Point is what one size measured. Durations are in nanoseconds in JSON.
type Point struct {
	// Members is the members admitted besides the benchmark's liaison.
	Members int `json:"members"`
	// Admission is tocsin members add --lazy-consumers of them all: the
	// registry records and the account JWTs pushed to every node.
	Admission time.Duration `json:"admission"`
	// ConsumersCreated is then every member's consumers created
	// (auth.EnsureConsumers, Senders at once): what the agent service does
	// as each member's agent first connects.
	ConsumersCreated time.Duration `json:"consumers_created"`
	// MetaEntriesAdmission is the meta raft group's entries committed
	// during admission and the consumers' creation (its committed index
	// before and after; an entry may carry several proposals).
	MetaEntriesAdmission uint64 `json:"meta_entries_admission"`
	// MetaEntriesIdlePerMin is the meta group's entries per minute while
	// the cluster sat idle after admission.
	MetaEntriesIdlePerMin float64 `json:"meta_entries_idle_per_min"`
	// NoQuorumWarnings is how many times, from their start until every
	// member's consumers were created, the three nodes logged that a
	// stream's or a consumer's raft group had no quorum ("has NO quorum,
	// stalled"): what a node busy elsewhere (an account resolver's sync
	// on the route) costs the others.
	NoQuorumWarnings int `json:"no_quorum_warnings"`
	// MetaWALBytes is the meta group's log on disk after admission.
	MetaWALBytes uint64 `json:"meta_wal_bytes"`
	// IdleCores is the CPU the three node processes used while idle, in
	// cores (1.0: one core busy the whole time).
	IdleCores float64 `json:"idle_cores"`
	// Consumers is every consumer of every stream (the streams' consumer
	// counts).
	Consumers int `json:"consumers"`
	// RaftGroups is the raft groups of the three nodes together; the most
	// on one node is RaftGroupsPerNode.
	RaftGroups        int `json:"raft_groups"`
	RaftGroupsPerNode int `json:"raft_groups_per_node"`
	// NodeRSS is the largest node process's resident set, idle after
	// admission; StoreBytes the three nodes' JetStream stores together.
	NodeRSS    int64 `json:"node_rss_bytes"`
	StoreBytes int64 `json:"store_bytes"`
	// DirectoryBytes and DirectoryTime are one fetch of the public member
	// directory (records.FetchDirectory) by a member: the bytes its
	// connection read, and how long it took.
	DirectoryBytes int64         `json:"directory_bytes"`
	DirectoryTime  time.Duration `json:"directory_time"`
	// AgentStart is one member's agent from its start until live;
	// AgentStartBytesIn what its connection read meanwhile (the directory,
	// its consumers' state, the registry reads it makes).
	AgentStart        time.Duration `json:"agent_start"`
	AgentStartBytesIn int64         `json:"agent_start_bytes_in"`
	// ReachAllDelivered is from the liaison's advisory to every sector
	// until its reach (reach.Of, what tocsin reach reads) shows every
	// member delivered; each member sends its own receipt.
	ReachAllDelivered time.Duration `json:"reach_all_delivered"`
	// ReceiptsSent is, of that, until the last member's receipt was
	// acknowledged by the stream (each sent on a new connection as that
	// member, Options.Senders at once: the senders' pace, not the router's).
	ReceiptsSent time.Duration `json:"receipts_sent"`
	// ReceiptCPU is the CPU the three node processes used from the
	// advisory until all delivered, divided by the receipts: an upper bound
	// of a receipt's cost to the cluster (it includes each sender's TLS
	// connection and authentication, which a connected agent does not pay).
	ReceiptCPU time.Duration `json:"receipt_cpu"`
	// ReceiptIngestBytes is what INGEST grew by per receipt (one replica).
	ReceiptIngestBytes int64 `json:"receipt_ingest_bytes"`
	// ReachKeys, ReachBytes and ReachWrites are the REACH bucket after
	// that: its keys, its stream's bytes, and its writes (the stream's
	// last sequence).
	ReachKeys   uint64 `json:"reach_keys"`
	ReachBytes  uint64 `json:"reach_bytes"`
	ReachWrites uint64 `json:"reach_writes"`
	// Pages are the web face's first pages, each fetched once over HTTPS.
	Pages []Page `json:"pages"`
	// FailoverWrite is from SIGKILL of the node that leads the meta group
	// and a probe R3 stream until a write to that stream is acknowledged
	// again; FailoverMeta until a consumer can be created again (the meta
	// layer has a leader).
	FailoverWrite time.Duration `json:"failover_write"`
	FailoverMeta  time.Duration `json:"failover_meta"`
	// Startup is the killed node started again on its data until every
	// node says ready (/readyz: routes, peers, every stream led and
	// current).
	Startup time.Duration `json:"startup"`
	// Load is the machine's 1-minute load average when the point ended.
	Load float64 `json:"load_average"`
}

// Page is one web page's first byte and size.
type Page struct {
	Name  string        `json:"name"`
	Path  string        `json:"path"`
	TTFB  time.Duration `json:"ttfb"`
	Bytes int           `json:"bytes"`
}

// Run measures every size in turn.
func Run(ctx context.Context, o Options, log *zap.Logger) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	res := &Result{}
	for _, n := range o.Sizes {
		dir := filepath.Join(o.DataDir, fmt.Sprint("members-", n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		p, err := measure(ctx, o, n, dir, log)
		if err != nil {
			return res, fmt.Errorf("%d members: %w", n, err)
		}
		if miss := p.Missing(); len(miss) > 0 {
			return res, fmt.Errorf("%w: %d members: not measured: %s", ErrCluster, n, strings.Join(miss, ", "))
		}
		res.Points = append(res.Points, *p)
	}
	return res, nil
}

// mayBeZero are the figures a healthy run may measure as 0: an idle meta
// layer writes nothing, its log is empty just after a snapshot compacted
// it (seen at 1,000 members), and a healthy cluster loses no quorum.
var mayBeZero = map[string]bool{"MetaEntriesIdlePerMin": true, "Load": true, "NoQuorumWarnings": true, "MetaWALBytes": true}

// Missing names the figures of p that were not measured (zero), and the
// web pages without a first byte or a body.
func (p Point) Missing() []string {
	var out []string
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		if f.Kind() != reflect.Slice && f.IsZero() && !mayBeZero[name] {
			out = append(out, name)
		}
	}
	if len(p.Pages) == 0 {
		out = append(out, "Pages")
	}
	for _, pg := range p.Pages {
		if pg.TTFB <= 0 || pg.Bytes == 0 {
			out = append(out, "Pages: "+pg.Name)
		}
	}
	return out
}
