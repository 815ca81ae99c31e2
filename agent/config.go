package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/agent/paging"
)

// Config is the agent's YAML file (tocsin agent --config FILE). Every key
// is also a flag of `tocsin agent`, spelled with dashes (webhook_format is
// --webhook-format; sinks is the repeatable --sink). Unknown keys are
// errors that name the key.
//
//	creds: /etc/tocsin/st-mary.creds       # the member's .creds file (required)
//	server: nats://a:4222,nats://b:4222     # the cluster (default: the dev cluster)
//	tls_ca: /etc/tocsin/ca.pem              # CA of the cluster's TLS certificates
//	sectors: [patient-care]                 # default: every sector of the member
//	lanes: [flash, urgent]                  # default: every lane
//	sinks:                                  # at least one
//	  - jsonl:/var/log/tocsin/alerts.jsonl
//	  - webhook:https://soar.example/tocsin
//	  - stix-dir:/var/lib/tocsin/bundles
//	  - hec:https://splunk.example:8088      # Splunk HEC (hec_token_file)
//	  - syslog:tls://siem.example:6514?format=cef  # or format=leef; tcp://, udp://
//	state: /var/lib/tocsin/state            # required: positions, outbox, quarantine
//	http: 127.0.0.1:8787                    # default: no HTTP endpoint
//	receipts: all                           # all, advisories or none
//	webhook_secret_file: /etc/tocsin/hook.secret  # required with a webhook sink
//	webhook_format: json                    # json (the record) or stix (the bundle)
//	webhook_attempts: 8                     # posts before the dead-letter file
//	jsonl_max_bytes: 104857600              # rotate the JSONL file at this size
//	batch: 1024                             # most messages fetched at once
//	inventory:                              # matched against CSAF advisories, never sent
//	  - /etc/tocsin/devices.csv
//	  - /etc/tocsin/sbom.cdx.json
//	aliases: /etc/tocsin/aliases.yaml       # the member's own vendor renamings
//	report_affected: false                  # receipts may say "affected" (a boolean)
type Config struct {
	// Creds is the member's .creds file. Required.
	Creds string `yaml:"creds"`
	// Server is the cluster's URLs, comma-separated.
	Server string `yaml:"server"`
	// TLSCA is the CA certificate (PEM) the cluster's TLS certificates
	// are checked against; default the system's roots.
	TLSCA string `yaml:"tls_ca"`
	// Sectors to write; default every sector of the member (copies of
	// the others are acknowledged unwritten).
	Sectors []string `yaml:"sectors"`
	// Lanes to write; default every lane.
	Lanes []string `yaml:"lanes"`
	// Sinks are "jsonl:PATH", "webhook:URL", "stix-dir:DIR", "hec:URL" or
	// "syslog:URL". At least one.
	Sinks []string `yaml:"sinks"`
	// State is the agent's state directory. Required.
	State string `yaml:"state"`
	// HTTP is the local endpoint's address; default none.
	HTTP string `yaml:"http"`
	// Receipts is all (default), advisories or none.
	Receipts string `yaml:"receipts"`
	// WebhookSecretFile holds the HMAC secret of webhook sinks (required
	// with one; $TOCSIN_WEBHOOK_SECRET is used when unset).
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// WebhookFormat is json (default) or stix.
	WebhookFormat string `yaml:"webhook_format"`
	// WebhookAttempts is how many posts before the dead-letter file; default 8.
	WebhookAttempts int `yaml:"webhook_attempts"`
	// JSONLMaxBytes rotates JSONL files at this size; default 100 MiB.
	JSONLMaxBytes int64 `yaml:"jsonl_max_bytes"`
	// Batch is the most messages fetched at once per consumer; default and at most 1024.
	Batch int `yaml:"batch"`
	// Inventory are the member's inventory files (.csv of devices,
	// CycloneDX or SPDX JSON SBOMs), matched against CSAF advisories on
	// this machine; default none.
	Inventory []string `yaml:"inventory"`
	// Aliases is a YAML file of extra vendor and product renamings; default
	// none.
	Aliases string `yaml:"aliases"`
	// ReportAffected lets a CSAF advisory's delivered receipt say that the
	// inventory matched it (a boolean); default false.
	ReportAffected bool `yaml:"report_affected"`
	// PagingConfig is who is paged for what (pager, escalation, smtp).
	// Default: nothing pages.
	PagingConfig `yaml:",inline"`
	// HECConfig and SyslogConfig are the hec and syslog sinks' settings
	// (hec_token_file, syslog_tls_ca, ...).
	HECConfig    `yaml:",inline"`
	SyslogConfig `yaml:",inline"`
}

// LoadConfig reads a YAML config; an unknown key is an error naming it.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: config: %v", ErrOptions, err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a YAML config read from name.
func ParseConfig(name string, data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // empty: an empty config
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return Config{}, fmt.Errorf("%w: config %s: %s", ErrOptions, name, strings.Join(te.Errors, "; "))
		}
		return Config{}, fmt.Errorf("%w: config %s: %v", ErrOptions, name, err)
	}
	return c, nil
}

// Options opens the sinks and returns the agent's options. The caller
// adds Status and Vocabulary if it wants them.
func (c Config) Options(log *zap.Logger) (Options, error) {
	if c.State == "" {
		return Options{}, fmt.Errorf("%w: a state directory is required (--state)", ErrOptions)
	}
	var (
		sinks []Sink
		pager *paging.Pager
	)
	fail := func(err error) (Options, error) {
		for _, s := range sinks {
			_ = s.Close()
		}
		return Options{}, err
	}
	for _, spec := range c.Sinks {
		s, err := c.openSink(spec, log)
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, s)
	}
	if c.PagingConfig.enabled() {
		webhookURL := ""
		for _, spec := range c.Sinks {
			if s, err := ParseSinkSpec(spec); err == nil && s.Type == "webhook" && webhookURL == "" {
				webhookURL = s.Target
			}
		}
		p, err := c.PagingConfig.newPager(c.State, webhookURL, c.webhookSecret, "tocsin agent", log)
		if err != nil {
			return fail(err)
		}
		pager = p
	}
	o := Options{Pager: pager, CredsFile: c.Creds, Servers: c.Server, Sectors: c.Sectors, Lanes: c.Lanes, Sinks: sinks, StateDir: c.State,
		HTTPAddr: c.HTTP, Receipts: c.Receipts, Batch: c.Batch, Inventory: c.Inventory, Aliases: c.Aliases, ReportAffected: c.ReportAffected}
	if c.TLSCA != "" {
		if _, err := os.Stat(c.TLSCA); err != nil {
			return fail(fmt.Errorf("%w: tls_ca: %v", ErrOptions, err))
		}
		o.NATS = append(o.NATS, nats.RootCAs(c.TLSCA))
	}
	return o, nil
}

func (c Config) openSink(spec string, log *zap.Logger) (Sink, error) {
	s, err := ParseSinkSpec(spec)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case "jsonl":
		return OpenJSONL(JSONLOptions{Path: s.Target, MaxBytes: c.JSONLMaxBytes})
	case "stix-dir":
		return OpenSTIXDir(s.Target)
	case "hec":
		return c.openHEC(s.Target, log)
	case "syslog":
		return c.openSyslog(s.Target, log)
	}
	secret, err := c.webhookSecret()
	if err != nil {
		return nil, err
	}
	return OpenWebhook(WebhookOptions{URL: s.Target, Secret: secret, Format: c.WebhookFormat, MaxAttempts: c.WebhookAttempts,
		SpoolDir: filepath.Join(c.State, "webhook")}, log)
}

func (c Config) webhookSecret() ([]byte, error) {
	if c.WebhookSecretFile == "" {
		if s := os.Getenv("TOCSIN_WEBHOOK_SECRET"); s != "" {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("%w: a webhook sink needs a secret to sign with: --webhook-secret-file FILE or $TOCSIN_WEBHOOK_SECRET", ErrSinkSpec)
	}
	data, err := os.ReadFile(c.WebhookSecretFile)
	if err != nil {
		return nil, fmt.Errorf("%w: webhook secret: %v", ErrSinkSpec, err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < 16 {
		return nil, fmt.Errorf("%w: the webhook secret in %s is %d bytes; use at least 16 random bytes", ErrSinkSpec, c.WebhookSecretFile, len(secret))
	}
	return secret, nil
}
