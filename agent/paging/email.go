package paging

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/tocsin-project/tocsin/tlp"
)

// SMTPOptions configures the e-mail channels (the `smtp:` section of the
// agent's config).
type SMTPOptions struct {
	// Addr is the mail server, HOST:PORT (587 for submission). Required.
	Addr string `yaml:"addr"`
	// From is the sender address of the pages. Required.
	From string `yaml:"from"`
	// Username and Password authenticate (SMTP AUTH, the strongest
	// mechanism the server offers). Default: no authentication.
	Username string `yaml:"username"`
	Password string `yaml:"-"`
	// TLS is the STARTTLS configuration (its RootCAs for a private CA).
	// Default: the system's roots, the server name from Addr.
	TLS *tls.Config `yaml:"-"`
	// Timeout bounds one conversation with the server. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Email pages by e-mail over SMTP to one or more addresses. A page of a
// TLP:AMBER or more restrictive message is sent only over STARTTLS: a
// server that does not offer it is refused for good (the next step fires),
// never sent the page in clear. Other pages use STARTTLS when offered.
type Email struct {
	opts SMTPOptions
	to   []string
	host string
	port int
}

// NewEmail returns the channel "email:ADDR[,ADDR...]" for the addresses of
// spec ("soc@st-mary.example,lead@st-mary.example").
func NewEmail(opts SMTPOptions, spec string) (*Email, error) {
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: smtp addr %q: %v; use HOST:PORT", ErrPolicy, opts.Addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("%w: smtp addr %q: bad port", ErrPolicy, opts.Addr)
	}
	if opts.From == "" {
		return nil, fmt.Errorf("%w: smtp: no from address", ErrPolicy)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	var to []string
	for a := range strings.SplitSeq(spec, ",") {
		if a = strings.TrimSpace(a); a != "" {
			if !strings.Contains(a, "@") {
				return nil, fmt.Errorf("%w: email:%s: %q is not an address", ErrPolicy, spec, a)
			}
			to = append(to, a)
		}
	}
	if len(to) == 0 {
		return nil, fmt.Errorf("%w: email: no address; use email:soc@example.org", ErrPolicy)
	}
	return &Email{opts: opts, to: to, host: host, port: p}, nil
}

// Name is "email:" and the addresses.
func (e *Email) Name() string { return "email:" + strings.Join(e.to, ",") }

// Trigger mails the page.
func (e *Email) Trigger(ctx context.Context, p Page) error {
	var b strings.Builder
	b.WriteString(p.Summary + "\n\n")
	keys := make([]string, 0, len(p.Details))
	for k := range p.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.ReplaceAll(p.Details[k], "\n", "\n  "))
	}
	fmt.Fprintf(&b, "\nescalation step %d. Acknowledge in the console or with: tocsin ack %s\n", p.Step, p.Message.ID)
	return e.send(ctx, p, p.Summary, b.String())
}

// Acknowledge mails who took the page.
func (e *Email) Acknowledge(ctx context.Context, p Page) error {
	by := p.By
	if by == "" {
		by = "a member of the team"
	}
	return e.send(ctx, p, "ACKNOWLEDGED: "+p.Summary, fmt.Sprintf("%s\n\nacknowledged by %s: no further escalation.\n", p.Summary, by))
}

// Resolve mails that the page needs no one any more.
func (e *Email) Resolve(ctx context.Context, p Page) error {
	return e.send(ctx, p, "RESOLVED: "+p.Summary, p.Summary+"\n\nresolved: actioned or withdrawn by its sender.\n")
}

// needsTLS reports whether m's words may only travel encrypted.
func needsTLS(m Message) bool {
	l, err := tlp.Parse(m.TLP)
	return err != nil || l >= tlp.Amber
}

func (e *Email) send(ctx context.Context, p Page, subject, body string) error {
	msg := mail.NewMsg()
	if err := msg.From(e.opts.From); err != nil {
		return fmt.Errorf("email: %w: from: %v", ErrPermanent, err)
	}
	if err := msg.To(e.to...); err != nil {
		return fmt.Errorf("email: %w: to: %v", ErrPermanent, err)
	}
	msg.Subject(Clip(subject, 200))
	msg.SetGenHeader("X-Tocsin-Message", p.Message.ID)
	msg.SetBodyString(mail.TypeTextPlain, body)
	policy := mail.TLSOpportunistic
	if needsTLS(p.Message) {
		policy = mail.TLSMandatory
	}
	tc := e.opts.TLS
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = e.host
	}
	opts := []mail.Option{mail.WithPort(e.port), mail.WithTLSPortPolicy(policy), mail.WithTLSConfig(tc), mail.WithTimeout(e.opts.Timeout)}
	if e.opts.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(e.opts.Username), mail.WithPassword(e.opts.Password))
	}
	c, err := mail.NewClient(e.host, opts...)
	if err != nil {
		return fmt.Errorf("email: %w: %v", ErrPermanent, err)
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "does not support STARTTLS") {
		return fmt.Errorf("email to %s: %w: the server offers no STARTTLS and a TLP:%s page travels only encrypted", strings.Join(e.to, ","), ErrPermanent, strings.ToUpper(p.Message.TLP))
	}
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 { // the server refused: 5xx
		return fmt.Errorf("email to %s: %w: %v", strings.Join(e.to, ","), ErrPermanent, err)
	}
	return fmt.Errorf("email to %s: %w", strings.Join(e.to, ","), err)
}
