package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent/paging"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// PagingConfig is the paging part of the agent's config: the
// `escalation:` and `smtp:` sections and the --pager flags.
//
//	pager: pagerduty:https://events.pagerduty.com/v2/enqueue
//	pager_routing_key_file: /etc/tocsin/pagerduty.key
//	page_exercises: false
//	smtp:
//	  addr: smtp.st-mary.example:587
//	  from: tocsin@st-mary.example
//	  username: tocsin
//	  password_file: /etc/tocsin/smtp.password
//	  ca_file: /etc/tocsin/smtp-ca.pem      # default: the system's roots
//	escalation:                             # default with --pager: one step, pagerduty
//	  steps:
//	    - channel: pagerduty
//	    - channel: email:soc-lead@st-mary.example
//	      after: 5m
//	    - channel: webhook                  # the webhook sink's URL, event "escalation"
//	      after: 10m
type PagingConfig struct {
	// Pager is "pagerduty:URL" (the Events API v2 endpoint; "pagerduty:"
	// alone is PagerDuty's own). Default: none.
	Pager string `yaml:"pager"`
	// PagerRoutingKeyFile holds the integration key of the member's
	// PagerDuty service. Required with Pager.
	PagerRoutingKeyFile string `yaml:"pager_routing_key_file"`
	// PagerAPIURL is PagerDuty's REST API (tests). Default
	// paging.PagerDutyAPIURL.
	PagerAPIURL string `yaml:"pager_api_url"`
	// PagerAPITokenFile holds a PagerDuty REST API token: an incident
	// acknowledged in PagerDuty is read back every 30 s and becomes the
	// member's acknowledged receipt. Default none.
	PagerAPITokenFile string `yaml:"pager_api_token_file"`
	// PageExercises pages exercise messages too (each marked EXERCISE).
	// Default false; the policy's exercises: true does the same.
	PageExercises bool `yaml:"page_exercises"`
	// SMTP is the mail server e-mail steps use.
	SMTP *SMTPConfig `yaml:"smtp"`
	// Escalation is the policy (paging.Policy). Default, with Pager set:
	// one step, pagerduty. Without Pager and Escalation nothing pages.
	Escalation *paging.Policy `yaml:"escalation"`
}

// SMTPConfig is the `smtp:` section.
type SMTPConfig struct {
	// Addr is HOST:PORT of the submission server. Required.
	Addr string `yaml:"addr"`
	// From is the pages' sender address. Required.
	From string `yaml:"from"`
	// Username authenticates, with the password in PasswordFile.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// CAFile is a PEM CA for the server's STARTTLS certificate. Default:
	// the system's roots.
	CAFile string `yaml:"ca_file"`
}

// enabled reports whether anything pages.
func (c PagingConfig) enabled() bool { return c.Pager != "" || c.Escalation != nil }

// newPager builds the pager of c, its state under stateDir; webhook is the
// first webhook sink's URL and secret (for a "webhook" step).
func (c PagingConfig) newPager(stateDir, webhookURL string, secret func() ([]byte, error), source string, log *zap.Logger) (*paging.Pager, error) {
	policy := paging.Policy{}
	if c.Escalation != nil {
		policy = *c.Escalation
	}
	if len(policy.Steps) == 0 && c.Pager != "" {
		policy.Steps = []paging.Step{{Channel: "pagerduty"}}
	}
	policy.Exercises = policy.Exercises || c.PageExercises
	var channels []paging.Channel
	if c.Pager != "" {
		typ, url, _ := strings.Cut(c.Pager, ":")
		if typ != "pagerduty" {
			return nil, fmt.Errorf("%w: pager %q: use pagerduty:URL", ErrOptions, c.Pager)
		}
		key, err := readSecretFile("pager routing key", c.PagerRoutingKeyFile, "--pager-routing-key-file")
		if err != nil {
			return nil, err
		}
		var token []byte
		if c.PagerAPITokenFile != "" {
			if token, err = readSecretFile("pagerduty api token", c.PagerAPITokenFile, "--pager-api-token-file"); err != nil {
				return nil, err
			}
		}
		pd, err := paging.NewPagerDuty(paging.PagerDutyOptions{URL: url, RoutingKey: string(key), Source: source, APIToken: string(token), APIURL: c.PagerAPIURL})
		if err != nil {
			return nil, err
		}
		channels = append(channels, pd)
	}
	for _, s := range policy.Steps {
		switch {
		case strings.HasPrefix(s.Channel, "email:"):
			if c.SMTP == nil {
				return nil, fmt.Errorf("%w: escalation step %s needs an smtp: section (addr, from)", ErrOptions, s.Channel)
			}
			opts, err := c.SMTP.options()
			if err != nil {
				return nil, err
			}
			e, err := paging.NewEmail(opts, strings.TrimPrefix(s.Channel, "email:"))
			if err != nil {
				return nil, err
			}
			channels = append(channels, e)
		case s.Channel == "webhook":
			if webhookURL == "" {
				return nil, fmt.Errorf("%w: escalation step webhook needs a webhook sink (--sink webhook:URL)", ErrOptions)
			}
			key, err := secret()
			if err != nil {
				return nil, err
			}
			channels = append(channels, &webhookPager{url: webhookURL, secret: key, client: &http.Client{Timeout: 30 * time.Second}})
		}
	}
	return paging.New(paging.Options{Dir: filepath.Join(stateDir, "pages"), Policy: policy, Channels: channels, Log: log.Named("paging")})
}

func (s SMTPConfig) options() (paging.SMTPOptions, error) {
	o := paging.SMTPOptions{Addr: s.Addr, From: s.From, Username: s.Username}
	if s.PasswordFile != "" {
		p, err := readSecretFile("smtp password", s.PasswordFile, "smtp: password_file")
		if err != nil {
			return o, err
		}
		o.Password = string(p)
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return o, fmt.Errorf("%w: smtp ca_file: %v", ErrOptions, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("%w: smtp ca_file %s holds no PEM certificate", ErrOptions, s.CAFile)
		}
		o.TLS = &tls.Config{RootCAs: pool}
	}
	return o, nil
}

// readSecretFile reads a one-line secret; surrounding white space (the
// newline an editor adds) is not part of it.
func readSecretFile(what, path, flag string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: the %s file is required (%s FILE)", ErrOptions, what, flag)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrOptions, what, err)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the %s file %s is empty", ErrOptions, what, path)
	}
	return data, nil
}

// webhookPager is the "webhook" step: the signed webhook with event
// escalation (and acknowledged, resolved), header Tocsin-Event.
type webhookPager struct {
	url    string
	secret []byte
	client *http.Client
}

func (*webhookPager) Name() string { return "webhook" }

func (w *webhookPager) Trigger(ctx context.Context, p paging.Page) error {
	return w.post(ctx, "escalation", p)
}
func (w *webhookPager) Acknowledge(ctx context.Context, p paging.Page) error {
	return w.post(ctx, "acknowledged", p)
}
func (w *webhookPager) Resolve(ctx context.Context, p paging.Page) error {
	return w.post(ctx, "resolved", p)
}

// HeaderEvent names a webhook post's event: absent for records,
// "escalation", "acknowledged" or "resolved" for pages.
const HeaderEvent = "Tocsin-Event"

func (w *webhookPager) post(ctx context.Context, event string, p paging.Page) error {
	body, err := json.Marshal(struct {
		Event    string            `json:"event"`
		ID       string            `json:"id"`
		Step     int               `json:"step"`
		Severity string            `json:"severity"`
		Summary  string            `json:"summary"`
		Details  map[string]string `json:"details,omitempty"`
		By       string            `json:"by,omitempty"`
	}{event, p.Message.ID, p.Step, p.Message.Severity().Name, p.Summary, p.Details, p.By})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook page: %w: %v", paging.ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderSignature, Sign(w.secret, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook page: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("webhook page: %s", resp.Status)
	default:
		return fmt.Errorf("webhook page: %w: %s", paging.ErrPermanent, resp.Status)
	}
}

// pageMessage is what the pager is told of r.
func pageMessage(r *Record) paging.Message {
	kind := r.Kind
	if kind == KindAmendment {
		kind = KindAlert // an amendment pages as the alert it amends did
	}
	m := paging.Message{ID: r.ID, Kind: kind, Sender: r.Sender, SenderName: r.SenderName, TLP: r.TLP, Lane: r.Lane,
		Exercise: r.Exercise, Title: r.Title, Body: r.Body, Action: r.Action, Routed: r.Routed, Affected: len(r.Affected), Region: r.region()}
	// A page lists each indicator once, by its whole pattern (a compound
	// one has a row per comparison), at most 20.
	seen := map[string]bool{}
	for _, in := range r.Indicators {
		if in.Pattern != "" && !seen[in.Pattern] && len(m.Indicators) < 20 {
			seen[in.Pattern] = true
			m.Indicators = append(m.Indicators, in.Pattern)
		}
	}
	return m
}

// page hands recs to the pager, durably, before their messages are
// acknowledged: a page is never lost to a crash. A revocation resolves the
// page of the alert it withdraws.
func (a *Agent) page(recs []*Record) error {
	p := a.opts.Pager
	if p == nil {
		return nil
	}
	msgs := make([]paging.Message, 0, len(recs))
	for _, r := range recs {
		if r.Revoked && r.Amends != "" {
			if _, err := p.Resolve(r.Amends); err != nil {
				return err
			}
			continue
		}
		msgs = append(msgs, pageMessage(r))
	}
	_, err := p.Enqueue(msgs)
	return err
}

// pagerSettled sends the member's acknowledged receipt for a page a person
// acknowledged (or resolved) at the channel itself, in PagerDuty: the
// liaison's reach then shows that someone saw it.
func (a *Agent) pagerSettled(m paging.Message, by string, resolved bool) {
	note := "acknowledged in PagerDuty"
	if resolved {
		note = "resolved in PagerDuty"
	}
	r := a.pagedReceipt(m, note)
	r.By = paging.Clip(by, records.MaxReceiptBy)
	if _, err := a.queue(tocsinv1.Kind_KIND_RECEIPT, r); err != nil {
		a.log.Warn("the receipt of a page acknowledged in PagerDuty", zap.String("id", m.ID), zap.Error(err))
	}
}

// pagedReceipt is the member's acknowledged receipt of the paged message
// m: it names m's sender and the region whose router routed the copy
// paged (ref_region: the receipt is filed in that region's REACH), as the
// page kept them; a page of an older agent, without them, takes them from
// the records written lately.
func (a *Agent) pagedReceipt(m paging.Message, note string) *tocsinv1.Receipt {
	r := a.receiptOf(m.ID, tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED, note)
	if m.Sender != "" {
		r.RefSender = m.Sender
	}
	if m.Region != "" {
		r.RefRegion = m.Region
	}
	return r
}
