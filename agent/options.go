package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/agent/paging"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/members"
)

// ErrOptions is wrapped by every problem New finds in its Options.
var ErrOptions = errors.New("invalid agent options")

// Which messages get a delivered receipt (Options.Receipts).
const (
	// ReceiptsAll: every alert and advisory written to the sinks (default).
	ReceiptsAll = "all"
	// ReceiptsAdvisories: advisories only.
	ReceiptsAdvisories = "advisories"
	// ReceiptsNone: none.
	ReceiptsNone = "none"
)

// Options configures an Agent.
type Options struct {
	// CredsFile is the member's .creds file: the member id is its user
	// JWT's name, the receipts are signed with its seed. Required.
	CredsFile string
	// Servers are the cluster URLs, comma-separated. Required.
	Servers string
	// Sectors are the sectors written to the sinks. Default: every sector
	// of the member (from the directory). Each must be one of the
	// member's. One consumer reads all the member's sectors, so copies of
	// the others are acknowledged without being written, as lanes are: a
	// member's agents share its consumers, and one agent with a subset
	// means the other sectors are not delivered to any.
	Sectors []string
	// Lanes are the lanes written to the sinks. Default: every lane.
	// Messages of other lanes are acknowledged without being written (the
	// consumers are per sector, so lanes are filtered here); a CSAF
	// advisory that matched the inventory is written when the lane it is
	// raised to (records.Raised) is one of them.
	Lanes []string
	// Sinks receive every verified message. At least one. The agent
	// closes them when Run returns.
	Sinks []Sink
	// StateDir holds the agent's own state: the last stream sequence
	// written per consumer, the outbox, the quarantine file, the saved
	// member directory, the lock. Required; one agent per directory.
	StateDir string
	// HTTPAddr is the local HTTP endpoint (/healthz, /alerts, POST
	// /receipt, POST /sighting). Default "" (none); a bare ":PORT" binds
	// loopback.
	HTTPAddr string
	// Receipts is which messages get a delivered receipt: ReceiptsAll (the
	// default), ReceiptsAdvisories or ReceiptsNone.
	Receipts string
	// Batch is the most messages one pull of one consumer fetches (and so
	// the most unacknowledged at once per consumer). Default, and at most,
	// auth.ConsumerMaxAckPending (1,024): a 100,000-alert catch-up in pulls
	// of 256 went at 0.47-0.51 of a plain consumer's rate, in pulls of
	// 1,024 at 0.60-0.83 (docs/AGENT.md).
	Batch int
	// FetchWait is how long an idle pull waits for messages before it is
	// renewed. It also bounds what an agent restart costs: messages sent
	// to a pull request of the process that ended come back only an ack
	// wait later (docs/AGENT.md). Default 10s; heartbeats every
	// FetchWait/4 (at most 5s) detect a lost consumer sooner.
	FetchWait time.Duration
	// DirectoryRefresh is how often the member directory is fetched again.
	// Default 5m.
	DirectoryRefresh time.Duration
	// Recent is how many of the last records GET /alerts can show.
	// Default 100.
	Recent int
	// Status receives one line per change of the agent's state
	// (connected, catching up N messages, live, ..., stopped); the logger
	// then has them at debug level only. Default: none (the lines go to the
	// logger at info level).
	Status io.Writer
	// Vocabulary names the lanes Lanes is checked against. Default
	// members.DefaultVocabulary().
	Vocabulary members.Vocabulary
	// Name names the connection in the server's monitoring. Default
	// "tocsin agent".
	Name string
	// NATS are extra connection options.
	NATS []nats.Option
	// Pager pages a person for the records its policy names (docs/AGENT.md,
	// Paging); the agent runs it and tells it of acknowledgements. Default
	// none.
	Pager *paging.Pager
	// Inventory are the member's inventory files (affected.Load: a .csv of
	// devices, a CycloneDX or SPDX 2.3 JSON SBOM), matched against every
	// CSAF advisory received: the record's affected rows, a raised
	// severity, a page. Read by New (a bad file is an error), read again
	// when one changes. Nothing of them is ever sent. Default none.
	Inventory []string
	// Aliases is a YAML file of the member's own vendor and product
	// renamings (affected.LoadAliases), added to the built-in ones; read
	// again with the inventory. Default none; needs Inventory.
	Aliases string
	// InventoryPoll is how often the inventory and alias files are checked
	// for a change (their size and modification time). Default 5s.
	InventoryPoll time.Duration
	// ReportAffected lets the delivered receipt of a CSAF advisory say
	// that the inventory matched it (Receipt.affected, a boolean, nothing
	// else): the liaison then counts affected members per sector. Default
	// false: no receipt ever says it.
	ReportAffected bool
}

// withDefaults fills the zero fields and checks the others.
func (o Options) withDefaults() (Options, error) {
	bad := func(format string, v ...any) (Options, error) {
		return o, fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, v...))
	}
	switch {
	case o.CredsFile == "":
		return bad("a .creds file is required (--creds)")
	case o.Servers == "":
		return bad("the cluster's URLs are required (--server)")
	case o.StateDir == "":
		return bad("a state directory is required (--state)")
	case len(o.Sinks) == 0:
		return bad("at least one sink is required (--sink jsonl:PATH, webhook:URL, stix-dir:DIR, hec:URL or syslog:tcp://HOST:PORT)")
	case o.Batch < 0 || o.FetchWait < 0 || o.DirectoryRefresh < 0 || o.Recent < 0 || o.InventoryPoll < 0:
		return bad("Batch, FetchWait, DirectoryRefresh, Recent and InventoryPoll cannot be negative; use 0 for the defaults")
	case o.Aliases != "" && len(o.Inventory) == 0:
		return bad("an alias file (--aliases) renames inventory rows: give the inventory too (--inventory FILE)")
	case o.ReportAffected && len(o.Inventory) == 0:
		return bad("--report-affected reports inventory matches: give the inventory too (--inventory FILE)")
	}
	if o.InventoryPoll == 0 {
		o.InventoryPoll = 5 * time.Second
	}
	switch o.Receipts {
	case "":
		o.Receipts = ReceiptsAll
	case ReceiptsAll, ReceiptsAdvisories, ReceiptsNone:
	default:
		return bad("receipts %q: use all, advisories or none", o.Receipts)
	}
	if len(o.Vocabulary.Lanes) == 0 {
		o.Vocabulary = members.DefaultVocabulary()
	}
	for _, l := range o.Lanes {
		if err := o.Vocabulary.CheckLane(l); err != nil {
			return bad("lane: %v", err)
		}
	}
	if o.HTTPAddr != "" {
		host, port, err := net.SplitHostPort(o.HTTPAddr)
		if err != nil {
			return bad("http address %q: %v; use HOST:PORT or :PORT", o.HTTPAddr, err)
		}
		if host == "" {
			o.HTTPAddr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	if o.Batch == 0 {
		o.Batch = auth.ConsumerMaxAckPending
	}
	if o.Batch > auth.ConsumerMaxAckPending {
		return bad("Batch %d is over the %d messages a member consumer hands out unacknowledged; use at most %d", o.Batch, auth.ConsumerMaxAckPending, auth.ConsumerMaxAckPending)
	}
	if o.FetchWait == 0 {
		o.FetchWait = 10 * time.Second
	}
	if o.FetchWait < 600*time.Millisecond {
		return bad("FetchWait %s is too short; use at least 600ms", o.FetchWait)
	}
	if o.DirectoryRefresh == 0 {
		o.DirectoryRefresh = 5 * time.Minute
	}
	if o.Recent == 0 {
		o.Recent = 100
	}
	if o.Name == "" {
		o.Name = "tocsin agent"
	}
	return o, nil
}

// heartbeat is the idle heartbeat of a pull.
func (o Options) heartbeat() time.Duration { return min(o.FetchWait/4, 5*time.Second) }
