package paging

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/tocsin-project/tocsin/broker"
)

// mailbox is a real SMTP server (go-smtp) that keeps what it receives.
type mailbox struct {
	mu    sync.Mutex
	mails []received
}

type received struct {
	from, data string
	to         []string
	tls, auth  bool
}

type session struct {
	box  *mailbox
	conn *smtp.Conn
	cur  received
}

func (b *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{box: b, conn: c}, nil
}
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "pager" || pass != "s3cret" {
			return errors.New("invalid username or password")
		}
		s.cur.auth = true
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.data = string(b)
	s.box.mu.Lock()
	s.box.mails = append(s.box.mails, s.cur)
	s.box.mu.Unlock()
	s.cur = received{auth: s.cur.auth}
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func (b *mailbox) all() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.mails...)
}

// startMailServer starts a server on loopback, offering STARTTLS when tc
// is set; it returns its address and the client's TLS configuration.
func startMailServer(t *testing.T, withTLS bool) (*mailbox, string, *tls.Config) {
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = !withTLS
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var client *tls.Config
	if withTLS {
		ca, err := broker.NewCA("mail ca", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := ca.Issue("mail", []string{"127.0.0.1", "localhost"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca.CertPEM())
		client = &tls.Config{RootCAs: pool}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box, l.Addr().String(), client
}

func TestAnEmailPageTravelsOverSTARTTLSWithAuth(t *testing.T) {
	box, addr, tc := startMailServer(t, true)
	e, err := NewEmail(SMTPOptions{Addr: addr, From: "tocsin@st-mary.example", Username: "pager", Password: "s3cret", TLS: tc}, "soc@st-mary.example, lead@st-mary.example")
	if err != nil {
		t.Fatal(err)
	}
	m := flash("01MAIL")
	summary, details := m.Text(false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Trigger(ctx, Page{Message: m, Step: 2, Summary: summary, Details: details}); err != nil {
		t.Fatal(err)
	}
	if err := e.Acknowledge(ctx, Page{Message: m, Step: 2, Summary: summary, By: "J. Ortiz"}); err != nil {
		t.Fatal(err)
	}
	got := box.all()
	if len(got) != 2 {
		t.Fatalf("the server received %d mails, want 2", len(got))
	}
	page := got[0]
	if !page.tls || !page.auth || len(page.to) != 2 || page.from != "tocsin@st-mary.example" {
		t.Errorf("the page: tls %v auth %v to %v from %q", page.tls, page.auth, page.to, page.from)
	}
	for _, want := range []string{"Subject: [FLASH TLP:AMBER] LockBit on the EHR", "X-Tocsin-Message: 01MAIL", "tocsin ack 01MAIL", "203.0.113.7"} {
		if !strings.Contains(page.data, want) {
			t.Errorf("the page lacks %q:\n%s", want, page.data)
		}
	}
	if !strings.Contains(got[1].data, "acknowledged by J. Ortiz") {
		t.Errorf("the acknowledgement mail:\n%s", got[1].data)
	}
}

// TestAnAmberPageIsNeverSentInClear: a server without STARTTLS gets the
// GREEN page and is refused the AMBER one, for good.
func TestAnAmberPageIsNeverSentInClear(t *testing.T) {
	box, addr, _ := startMailServer(t, false)
	e, err := NewEmail(SMTPOptions{Addr: addr, From: "tocsin@st-mary.example"}, "soc@st-mary.example")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	green := flash("01GREEN")
	green.TLP = "green"
	if err := e.Trigger(ctx, Page{Message: green, Step: 1, Summary: "green"}); err != nil {
		t.Fatalf("a TLP:GREEN page over a server without STARTTLS: %v", err)
	}
	err = e.Trigger(ctx, Page{Message: flash("01AMBER"), Step: 1, Summary: "amber"})
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "no STARTTLS") {
		t.Fatalf("a TLP:AMBER page over a server without STARTTLS: %v", err)
	}
	if n := len(box.all()); n != 1 {
		t.Errorf("the server received %d mails, want only the GREEN one", n)
	}
}
