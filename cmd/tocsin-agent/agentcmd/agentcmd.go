// Package agentcmd is the member agent's command, shared by `tocsin agent`
// and the agent-only binary cmd/tocsin-agent, which links no server code.
package agentcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/client"
)

// Env is what the agent command takes from the command line around it.
type Env struct {
	// Server, Creds and TLSCA point at the values of the --server, --creds
	// and --tls-ca flags (persistent flags of the root, with their
	// environment defaults); read when the command runs.
	Server, Creds, TLSCA *string
	// Logger builds the agent's logger when the command runs.
	Logger func() (*zap.Logger, error)
	// Stdout receives the agent's status lines.
	Stdout io.Writer
}

// UsageError is a bad flag, argument or configuration: the command line
// exits 1 with Err.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Command is the agent command; use is its cobra Use line.
func Command(use string, env Env) *cobra.Command {
	var (
		config string
		flags  agent.Config
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: "Run a member's agent: verified alerts and advisories into your SIEM, webhook and STIX folder, with receipts",
		Long: `Run the member agent: it reads the alerts and advisories of the member's sectors
and its direct inbox, verifies each (signature, sender, TLP), writes the good ones
to every sink (--sink jsonl:PATH, webhook:URL, stix-dir:DIR, hec:URL,
syslog:tcp|tls|udp://HOST:PORT?format=cef|leef; repeatable), sends a
delivered receipt for each, and quarantines the rest in STATE/quarantine.jsonl.
With --inventory FILE (a .csv of devices, a CycloneDX or SPDX JSON SBOM) every
CSAF advisory is matched against the member's own inventory on this machine: the
record lists the affected rows, a match is one lane more urgent and pages, and
nothing of the inventory is sent (--report-affected lets the delivered receipt
say affected, a boolean). Every key of the YAML config is also a flag; flags
win. Unless GOGC or GOMEMLIMIT are set, the agent's Go heap is collected at
50% growth with a soft limit of 48 MiB (docs/PERFORMANCE.md, agent memory).
Stop it with Ctrl-C.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &UsageError{fmt.Errorf("%s takes no arguments (%q): every setting is a flag or a key of --config", cmd.Name(), args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := agent.Config{}
			if config != "" {
				var err error
				if cfg, err = agent.LoadConfig(config); err != nil {
					return &UsageError{err}
				}
			}
			mergeFlags(cmd, env, &cfg, flags)
			log, err := env.Logger()
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			opts, err := cfg.Options(log)
			if err != nil {
				return &UsageError{err}
			}
			opts.Status = env.Stdout
			SetMemoryDefaults()
			a, err := agent.New(opts, log)
			if err != nil {
				for _, s := range opts.Sinks {
					_ = s.Close()
				}
				if errors.Is(err, agent.ErrOptions) || errors.Is(err, client.ErrCreds) || errors.Is(err, agent.ErrLocked) {
					return &UsageError{err}
				}
				return err
			}
			// Start-up leaves garbage (the JSON-schema library, linked with
			// package stix, compiles its metaschemas at init: 1.75 MB) an
			// idle agent would otherwise keep resident for minutes.
			debug.FreeOSMemory()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if err := a.Run(ctx); err != nil {
				if errors.Is(err, agent.ErrOptions) {
					return &UsageError{err}
				}
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&config, "config", "", "agent config file (YAML); every key is also a flag")
	f.StringSliceVar(&flags.Sectors, "sectors", nil, "sectors to receive (default: every sector of the member)")
	f.StringSliceVar(&flags.Lanes, "lanes", nil, "lanes to write to the sinks (default: every lane)")
	f.StringArrayVar(&flags.Sinks, "sink", nil, "a sink: jsonl:PATH, webhook:URL, stix-dir:DIR, hec:URL or syslog:tcp|tls|udp://HOST:PORT?format=cef|leef (repeatable)")
	f.StringVar(&flags.State, "state", "", "state directory (positions, outbox, quarantine); one agent per directory")
	f.StringVar(&flags.HTTP, "http", "", "local HTTP endpoint, HOST:PORT or :PORT for loopback (default: none)")
	f.StringVar(&flags.Receipts, "receipts", "", "which messages get a delivered receipt: all, advisories or none (default all)")
	f.StringVar(&flags.WebhookSecretFile, "webhook-secret-file", "", "file with the webhook HMAC secret ($TOCSIN_WEBHOOK_SECRET)")
	f.StringVar(&flags.WebhookFormat, "webhook-format", "", "webhook body: json (the record) or stix (the bundle) (default json)")
	f.IntVar(&flags.WebhookAttempts, "webhook-attempts", 0, "posts of a body before the dead-letter file (default 8)")
	f.Int64Var(&flags.JSONLMaxBytes, "jsonl-max-bytes", 0, "rotate JSONL files at this size (default 100 MiB)")
	f.IntVar(&flags.Batch, "batch", 0, "most messages fetched at once per consumer (default and at most 1024)")
	f.StringVar(&flags.HECTokenFile, "hec-token-file", "", "file with the Splunk HEC token of hec: sinks ($TOCSIN_HEC_TOKEN)")
	f.BoolVar(&flags.HECAck, "hec-ack", false, "hec: sinks wait for Splunk's indexer acknowledgement (when the token has it on)")
	f.StringVar(&flags.HECIndex, "hec-index", "", "index of hec: sinks' events (default: the token's)")
	f.StringVar(&flags.HECTLSCA, "hec-tls-ca", "", "PEM CA of the HEC collector's certificate (default: the system's roots)")
	f.StringVar(&flags.SyslogTLSCA, "syslog-tls-ca", "", "PEM CA of syslog:tls:// receivers' certificates (default: the system's roots)")
	f.StringVar(&flags.SyslogTLSCert, "syslog-tls-cert", "", "client certificate (PEM) for syslog:tls:// receivers that ask for one")
	f.StringVar(&flags.SyslogTLSKey, "syslog-tls-key", "", "key of --syslog-tls-cert")
	f.StringVar(&flags.Pager, "pager", "", "page a person: pagerduty:URL (pagerduty: alone for PagerDuty's own endpoint); see docs/AGENT.md, Paging")
	f.StringVar(&flags.PagerRoutingKeyFile, "pager-routing-key-file", "", "file with the PagerDuty service's integration (routing) key")
	f.StringVar(&flags.PagerAPITokenFile, "pager-api-token-file", "", "file with a PagerDuty REST API token: acknowledgements made in PagerDuty are read back (default: none)")
	f.BoolVar(&flags.PageExercises, "page-exercises", false, "page exercise messages too, marked EXERCISE (default: exercises never page)")
	f.StringArrayVar(&flags.Inventory, "inventory", nil, "an inventory file matched against CSAF advisories on this machine, never sent: .csv of devices, CycloneDX or SPDX JSON (repeatable; read again when it changes)")
	f.StringVar(&flags.Aliases, "aliases", "", "YAML file of extra vendor and product renamings for --inventory")
	f.BoolVar(&flags.ReportAffected, "report-affected", false, "a CSAF advisory's delivered receipt says whether the inventory matched it (a boolean, nothing else; default off)")
	return cmd
}

// mergeFlags lays the flags given on the command line over the config
// file; --server, --creds and --tls-ca (global flags, with their
// environment defaults) fill in what the file leaves empty.
func mergeFlags(cmd *cobra.Command, env Env, cfg *agent.Config, flags agent.Config) {
	changed := cmd.Flags().Changed
	set := func(name string, apply func()) {
		if changed(name) {
			apply()
		}
	}
	set("sectors", func() { cfg.Sectors = flags.Sectors })
	set("lanes", func() { cfg.Lanes = flags.Lanes })
	set("sink", func() { cfg.Sinks = flags.Sinks })
	set("state", func() { cfg.State = flags.State })
	set("http", func() { cfg.HTTP = flags.HTTP })
	set("receipts", func() { cfg.Receipts = flags.Receipts })
	set("webhook-secret-file", func() { cfg.WebhookSecretFile = flags.WebhookSecretFile })
	set("webhook-format", func() { cfg.WebhookFormat = flags.WebhookFormat })
	set("webhook-attempts", func() { cfg.WebhookAttempts = flags.WebhookAttempts })
	set("jsonl-max-bytes", func() { cfg.JSONLMaxBytes = flags.JSONLMaxBytes })
	set("batch", func() { cfg.Batch = flags.Batch })
	set("hec-token-file", func() { cfg.HECTokenFile = flags.HECTokenFile })
	set("hec-ack", func() { cfg.HECAck = flags.HECAck })
	set("hec-index", func() { cfg.HECIndex = flags.HECIndex })
	set("hec-tls-ca", func() { cfg.HECTLSCA = flags.HECTLSCA })
	set("syslog-tls-ca", func() { cfg.SyslogTLSCA = flags.SyslogTLSCA })
	set("syslog-tls-cert", func() { cfg.SyslogTLSCert = flags.SyslogTLSCert })
	set("syslog-tls-key", func() { cfg.SyslogTLSKey = flags.SyslogTLSKey })
	set("pager", func() { cfg.Pager = flags.Pager })
	set("pager-routing-key-file", func() { cfg.PagerRoutingKeyFile = flags.PagerRoutingKeyFile })
	set("pager-api-token-file", func() { cfg.PagerAPITokenFile = flags.PagerAPITokenFile })
	set("page-exercises", func() { cfg.PageExercises = flags.PageExercises })
	set("inventory", func() { cfg.Inventory = flags.Inventory })
	set("aliases", func() { cfg.Aliases = flags.Aliases })
	set("report-affected", func() { cfg.ReportAffected = flags.ReportAffected })
	if changed("server") || cfg.Server == "" {
		cfg.Server = *env.Server
	}
	if changed("creds") || cfg.Creds == "" {
		cfg.Creds = *env.Creds
	}
	if changed("tls-ca") || cfg.TLSCA == "" {
		cfg.TLSCA = *env.TLSCA
	}
	for i, s := range cfg.Sectors {
		cfg.Sectors[i] = strings.TrimSpace(s)
	}
}
