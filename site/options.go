package site

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
)

// ErrInvalidOptions is wrapped by every options error.
var ErrInvalidOptions = errors.New("invalid site options")

// Defaults for Options.
const (
	// DefaultListen is where the member's agent, CLI and console connect.
	DefaultListen = "127.0.0.1:4222"
	// DefaultOutboxBytes caps the outbox (discard new past it).
	DefaultOutboxBytes = 256 << 20
	// DefaultOutboxAlarm is the share of the outbox's cap at which the site
	// warns that it is filling.
	DefaultOutboxAlarm = 0.8
	// DefaultKeep is how long the in-streams keep what they sourced.
	DefaultKeep = 30 * 24 * time.Hour
)

// Options configure a member site. The zero value of every field but Hub,
// Creds and DataDir is a usable default.
type Options struct {
	// Hub are the hub's URLs: leaf URLs ("nats-leaf://hub:7422") or the
	// cluster's client URLs ("nats://hub:4222", what `tocsin dev` prints
	// first), from which the leaf URL is derived (same host, LeafPort).
	// Required.
	Hub []string
	// LeafPort is the hub's leaf port used with client URLs. Default 7422.
	LeafPort int
	// Creds is the site credential file (`tocsin members site-creds`).
	// Required.
	Creds string
	// CA is the PEM file of the CA that signed the hub's certificate. The
	// link is TLS when set (and always when the hub URL says tls://).
	// Default: none, plain text (dev only).
	CA string
	// DataDir holds the site's JetStream and its server name. Required;
	// created if missing.
	DataDir string
	// Listen is the local client listener. Default 127.0.0.1:4222.
	Listen string
	// Proxy is an HTTP proxy the leaf link goes through with CONNECT, as
	// hospital networks require ("http://user:pass@proxy:3128"; https for
	// TLS to the proxy). Default: none, a direct connection.
	Proxy string
	// HubDomain is the hub's JetStream domain. Default "tocsin".
	HubDomain string
	// OutboxBytes caps the outbox. Default 256 MiB.
	OutboxBytes int64
	// OutboxAlarm is the share of OutboxBytes at which the site warns.
	// Default 0.8.
	OutboxAlarm float64
	// Keep is how long the in-streams keep messages. Default 30 days.
	Keep time.Duration
	// Log receives the site's log. Default: none.
	Log *zap.Logger
}

func (o Options) withDefaults() Options {
	if o.LeafPort == 0 {
		o.LeafPort = broker.DefaultLeafPort
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.HubDomain == "" {
		o.HubDomain = broker.DefaultHubDomain
	}
	if o.OutboxBytes == 0 {
		o.OutboxBytes = DefaultOutboxBytes
	}
	if o.OutboxAlarm == 0 {
		o.OutboxAlarm = DefaultOutboxAlarm
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeep
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return o
}

// identity is who the site is, read from its credentials.
type identity struct {
	member  string
	sectors []string
	// home is the member's home region (docs/REGIONS.md), "" for none.
	home string
}

// readIdentity reads the member, its sectors and its home region from a
// site credential.
func readIdentity(path string) (identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return identity{}, fmt.Errorf("%w: creds: %v", ErrInvalidOptions, err)
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return identity{}, fmt.Errorf("%w: creds %s: %v", ErrInvalidOptions, path, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return identity{}, fmt.Errorf("%w: creds %s: %v", ErrInvalidOptions, path, err)
	}
	member, ok := strings.CutSuffix(uc.Name, "-site")
	if !ok || member == "" {
		return identity{}, fmt.Errorf("%w: creds %s are for %q, not a site; issue them with tocsin members site-creds", ErrInvalidOptions, path, uc.Name)
	}
	id := identity{member: member}
	for _, t := range uc.Tags {
		if s, ok := strings.CutPrefix(t, auth.SiteSectorTag); ok {
			id.sectors = append(id.sectors, s)
		}
		if h, ok := strings.CutPrefix(t, auth.SiteHomeRegionTag); ok {
			id.home = h
		}
	}
	return id, nil
}

// leafURLs turns o.Hub into leaf URLs.
func (o Options) leafURLs() ([]*url.URL, error) {
	if len(o.Hub) == 0 {
		return nil, fmt.Errorf("%w: hub: required: the hub's client or leaf URL", ErrInvalidOptions)
	}
	var out []*url.URL
	for _, h := range o.Hub {
		for _, s := range strings.Split(h, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("%w: hub %q: write nats-leaf://HOST:PORT or nats://HOST:PORT", ErrInvalidOptions, s)
			}
			switch u.Scheme {
			case "nats-leaf", "ws", "wss":
			case "nats", "tls":
				host, _, err := net.SplitHostPort(u.Host)
				if err != nil {
					host = u.Host
				}
				scheme := "nats-leaf"
				if u.Scheme == "tls" {
					scheme = "tls"
				}
				u = &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(o.LeafPort))}
			default:
				return nil, fmt.Errorf("%w: hub %q: scheme %q; write nats-leaf://HOST:PORT or nats://HOST:PORT", ErrInvalidOptions, s, u.Scheme)
			}
			out = append(out, u)
		}
	}
	return out, nil
}

func (o Options) validate() error {
	if o.Creds == "" {
		return fmt.Errorf("%w: creds: required: the site credential file", ErrInvalidOptions)
	}
	if o.DataDir == "" {
		return fmt.Errorf("%w: data: required: a directory for the site's streams", ErrInvalidOptions)
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return fmt.Errorf("%w: listen %q: %v; write HOST:PORT", ErrInvalidOptions, o.Listen, err)
	}
	if o.OutboxAlarm <= 0 || o.OutboxAlarm > 1 {
		return fmt.Errorf("%w: outbox alarm %v: use a share between 0 and 1", ErrInvalidOptions, o.OutboxAlarm)
	}
	if o.Proxy != "" {
		u, err := url.Parse(o.Proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: proxy %q: write http://HOST:PORT (or https://, with user:password@ if it asks)", ErrInvalidOptions, o.Proxy)
		}
	}
	_, err := o.leafURLs()
	return err
}
