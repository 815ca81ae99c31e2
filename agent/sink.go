package agent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Sink is where verified records go: the organisation's own tools.
type Sink interface {
	// Name identifies the sink in logs and status ("jsonl:/var/log/x.jsonl").
	Name() string
	// Write makes recs durable (or, for a webhook, durably queued) before
	// it returns. It is idempotent by Record.ID: a record this sink already
	// has, from an earlier call or earlier in recs, is not written again.
	// Records arrive in the order of their consumer.
	Write(ctx context.Context, recs []*Record) error
	// Close releases the sink; Write may not be called afterwards.
	Close() error
}

// ErrSinkSpec is wrapped when a sink specification cannot be used.
var ErrSinkSpec = errors.New("bad sink")

// SinkSpec is one sink as configured: "jsonl:PATH", "webhook:URL",
// "stix-dir:DIR", "hec:URL" or "syslog:URL".
type SinkSpec struct {
	// Type is "jsonl", "webhook", "stix-dir", "hec" or "syslog".
	Type string
	// Target is the file, URL or directory.
	Target string
}

// String spells the spec as on the command line.
func (s SinkSpec) String() string { return s.Type + ":" + s.Target }

// ParseSinkSpec parses "jsonl:PATH", "webhook:URL", "stix-dir:DIR",
// "hec:URL" or "syslog:tcp|tls|udp://HOST:PORT?format=cef|leef".
func ParseSinkSpec(spec string) (SinkSpec, error) {
	typ, target, ok := strings.Cut(spec, ":")
	if !ok || target == "" {
		return SinkSpec{}, fmt.Errorf("%w %q: use jsonl:PATH, webhook:URL, stix-dir:DIR, hec:URL or syslog:tcp://HOST:PORT", ErrSinkSpec, spec)
	}
	s := SinkSpec{Type: typ, Target: target}
	switch typ {
	case "jsonl", "stix-dir":
	case "webhook":
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return SinkSpec{}, fmt.Errorf("%w %q: the webhook URL must be http:// or https:// with a host", ErrSinkSpec, spec)
		}
	case "hec":
		if _, _, err := hecEndpoints(target); err != nil {
			return SinkSpec{}, err
		}
	case "syslog":
		if _, err := parseSyslogURL(target); err != nil {
			return SinkSpec{}, err
		}
	default:
		return SinkSpec{}, fmt.Errorf("%w %q: unknown sink type %q; use jsonl, webhook, stix-dir, hec or syslog", ErrSinkSpec, spec, typ)
	}
	return s, nil
}
