package paging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PagerDutyURL is the Events API v2 endpoint.
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyOptions configures the PagerDuty channel.
type PagerDutyOptions struct {
	// URL is the Events API v2 endpoint. Default PagerDutyURL.
	URL string
	// RoutingKey is the integration key of the member's PagerDuty service.
	// Required.
	RoutingKey string
	// Source names where pages come from ("tocsin agent st-mary").
	// Default "tocsin".
	Source string
	// APIToken is a PagerDuty REST API token (read-only suffices): with
	// it, an incident acknowledged or resolved in PagerDuty is read back
	// and settles the page (the agent then sends the member's receipt).
	// Default none: acknowledgements come only from Tocsin.
	APIToken string
	// APIURL is the REST API. Default PagerDutyAPIURL.
	APIURL string
	// Client is the HTTP client. Default one with a 30 s timeout.
	Client *http.Client
}

// PagerDutyAPIURL is the REST API, where acknowledgements are read back.
const PagerDutyAPIURL = "https://api.pagerduty.com"

// PagerDuty pages through the PagerDuty Events API v2: a trigger with the
// Tocsin message id as dedup_key, then acknowledge and resolve with the
// same key. 429 and 5xx are failures to retry, any other 4xx refuses for
// good.
type PagerDuty struct{ opts PagerDutyOptions }

// NewPagerDuty checks opts and returns the channel.
func NewPagerDuty(opts PagerDutyOptions) (*PagerDuty, error) {
	if opts.RoutingKey == "" {
		return nil, fmt.Errorf("%w: pagerduty: no routing key (--pager-routing-key-file FILE)", ErrPolicy)
	}
	if opts.URL == "" {
		opts.URL = PagerDutyURL
	}
	if opts.Source == "" {
		opts.Source = "tocsin"
	}
	if opts.APIURL == "" {
		opts.APIURL = PagerDutyAPIURL
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return &PagerDuty{opts: opts}, nil
}

// Name is "pagerduty".
func (*PagerDuty) Name() string { return "pagerduty" }

// pdEvent is an Events API v2 event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	Timestamp     string            `json:"timestamp,omitempty"`
	Component     string            `json:"component,omitempty"`
	Group         string            `json:"group,omitempty"`
	Class         string            `json:"class,omitempty"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Trigger sends a trigger event.
func (d *PagerDuty) Trigger(ctx context.Context, p Page) error {
	m := p.Message
	ev := pdEvent{RoutingKey: d.opts.RoutingKey, EventAction: "trigger", DedupKey: m.ID, Client: "Tocsin",
		Payload: &pdPayload{Summary: Clip(p.Summary, 1024), Source: d.opts.Source, Severity: m.Severity().PagerDuty,
			Component: m.Sender, Group: m.Lane, Class: m.Kind, CustomDetails: p.Details}}
	if !m.Routed.IsZero() {
		ev.Payload.Timestamp = m.Routed.UTC().Format(time.RFC3339)
	}
	if m.Link != "" {
		ev.ClientURL = m.Link
		ev.Links = []pdLink{{Href: m.Link, Text: "open in the Tocsin console"}}
	}
	return d.send(ctx, ev)
}

// Acknowledge sends an acknowledge event.
func (d *PagerDuty) Acknowledge(ctx context.Context, p Page) error {
	return d.send(ctx, pdEvent{RoutingKey: d.opts.RoutingKey, EventAction: "acknowledge", DedupKey: p.Message.ID})
}

// Resolve sends a resolve event.
func (d *PagerDuty) Resolve(ctx context.Context, p Page) error {
	return d.send(ctx, pdEvent{RoutingKey: d.opts.RoutingKey, EventAction: "resolve", DedupKey: p.Message.ID})
}

func (d *PagerDuty) send(ctx context.Context, ev pdEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.opts.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("pagerduty: %w: %v", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("pagerduty %s: %w", ev.EventAction, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("pagerduty %s: %s: %s", ev.EventAction, resp.Status, bytes.TrimSpace(answer))
	default:
		return fmt.Errorf("pagerduty %s: %w: %s: %s", ev.EventAction, ErrPermanent, resp.Status, bytes.TrimSpace(answer))
	}
}

// Clip cuts s to at most n bytes on a rune boundary.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Status reads the incident of p back from PagerDuty's REST API (by its
// incident key, the dedup key): acknowledged or resolved there, and by
// whom. Without an API token it reports nothing.
func (d *PagerDuty) Status(ctx context.Context, p Page) (acked, resolved bool, by string, err error) {
	if d.opts.APIToken == "" {
		return false, false, "", nil
	}
	q := url.Values{"incident_key": {p.Message.ID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(d.opts.APIURL, "/")+"/incidents?"+q.Encode(), nil)
	if err != nil {
		return false, false, "", err
	}
	req.Header.Set("Authorization", "Token token="+d.opts.APIToken)
	req.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return false, false, "", fmt.Errorf("pagerduty incidents: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, false, "", fmt.Errorf("pagerduty incidents: %s", resp.Status)
	}
	var list struct {
		Incidents []struct {
			Status           string `json:"status"`
			IncidentKey      string `json:"incident_key"`
			Acknowledgements []struct {
				Acknowledger struct {
					Summary string `json:"summary"`
				} `json:"acknowledger"`
			} `json:"acknowledgements"`
			LastStatusChangeBy struct {
				Summary string `json:"summary"`
			} `json:"last_status_change_by"`
		} `json:"incidents"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list); err != nil {
		return false, false, "", fmt.Errorf("pagerduty incidents: the answer does not decode: %w", err)
	}
	for _, in := range list.Incidents {
		if in.IncidentKey != p.Message.ID {
			continue
		}
		by = in.LastStatusChangeBy.Summary
		if n := len(in.Acknowledgements); n > 0 && in.Acknowledgements[n-1].Acknowledger.Summary != "" {
			by = in.Acknowledgements[n-1].Acknowledger.Summary
		}
		switch in.Status {
		case "acknowledged":
			return true, false, by, nil
		case "resolved":
			return true, true, by, nil
		}
	}
	return false, false, "", nil
}
