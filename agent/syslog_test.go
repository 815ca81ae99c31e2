package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/agent/socfmt"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// receiver is a strict RFC 5424 receiver: octet-counted frames (RFC 6587)
// over TCP or TLS, or datagrams over UDP; a frame or message that breaks
// its RFC fails the test. dropAfter closes a connection after that many
// frames (0: never).
type receiver struct {
	t    *testing.T
	addr string

	mu        sync.Mutex
	msgs      []socfmt.Message
	conns     int
	perConn   []int
	dropAfter int
}

// newReceiver listens on network ("tcp", "tls" or "udp") on loopback, at
// addr when given.
func newReceiver(t *testing.T, network string, cfg *tls.Config, addr ...string) *receiver {
	r := &receiver{t: t}
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		r.addr = pc.LocalAddr().String()
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				r.keep(buf[:n], 0)
			}
		}()
		return r
	}
	ln, err := net.Listen("tcp", append(addr, "127.0.0.1:0")[0])
	if err != nil {
		t.Fatal(err)
	}
	if network == "tls" {
		ln = tls.NewListener(ln, cfg)
	}
	t.Cleanup(func() { ln.Close() })
	r.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *receiver) serve(c net.Conn) {
	defer c.Close()
	r.mu.Lock()
	r.conns++
	n := r.conns
	r.perConn = append(r.perConn, 0)
	drop := r.dropAfter
	r.mu.Unlock()
	if tc, ok := c.(*tls.Conn); ok && tc.Handshake() != nil {
		return // the client did not trust us, or we it
	}
	br := bufio.NewReader(c)
	for i := 0; drop == 0 || n > 1 || i < drop; i++ {
		frame, err := socfmt.ReadFrame(br)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			r.t.Errorf("connection %d: %v", n, err)
			return
		}
		r.keep(frame, n)
	}
}

func (r *receiver) keep(data []byte, conn int) {
	m, err := socfmt.ParseMessage(data)
	if err != nil {
		r.t.Errorf("%q: %v", data, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	if conn > 0 {
		r.perConn[conn-1]++
	}
}

func (r *receiver) messages() []socfmt.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]socfmt.Message(nil), r.msgs...)
}

// externalIDs are the CEF externalId of every message, in order.
func externalIDs(t *testing.T, msgs []socfmt.Message) []string {
	var out []string
	for _, m := range msgs {
		e, err := socfmt.ParseCEF(m.Msg)
		if err != nil {
			t.Fatalf("%q: %v", m.Msg, err)
		}
		id, _ := socfmt.Get(e.Extension, "externalId")
		out = append(out, id)
	}
	return out
}

// testTLS is a CA, a server config for 127.0.0.1 it signed, and a client
// config that trusts it; files holds the PEM files for daemons.
type testTLS struct {
	server, client                 *tls.Config
	caFile, certFile, keyFile, dir string
}

func newTestTLS(t testing.TB) testTLS {
	ca, err := broker.NewCA("syslog test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := ca.WriteCertFiles(dir, "receiver", []string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	return testTLS{server: &tls.Config{Certificates: []tls.Certificate{pair}}, client: &tls.Config{RootCAs: pool},
		caFile: files.CA, certFile: files.Cert, keyFile: files.Key, dir: dir}
}

func openSyslog(t testing.TB, url, spool string, cfg *tls.Config) *Syslog {
	t.Helper()
	s, err := OpenSyslog(SyslogOptions{URL: url, SpoolDir: spool, TLS: cfg, Hostname: "agent.st-mary.example",
		Settle: 300 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSyslogStrictReceiver: TLS, octet counting and RFC 5424 as a strict
// reader takes them, the severity of the lane in the PRI and the CEF
// header, and a record queued once however often it is written.
func TestSyslogStrictReceiver(t *testing.T) {
	tt := newTestTLS(t)
	r := newReceiver(t, "tls", tt.server)
	s := openSyslog(t, "tls://"+r.addr+"?format=cef&facility=auth", t.TempDir(), tt.client)
	defer s.Close()
	flash := rec("f1")
	info := rec("i1")
	info.Lane = "info"
	if err := s.Write(context.Background(), []*Record{flash, info, flash}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "2 messages", testwait.True(func() bool { return len(r.messages()) == 2 }))
	msgs := r.messages()
	for i, want := range []struct {
		sev, cef int
	}{{2, 10}, {6, 2}} {
		m := msgs[i]
		e, err := socfmt.ParseCEF(m.Msg)
		if err != nil {
			t.Fatal(err)
		}
		if m.Facility != 4 || m.Severity != want.sev || e.Severity != want.cef || m.AppName != "tocsin" || m.MsgID != "alert" ||
			m.Hostname != "agent.st-mary.example" || e.Vendor != "Tocsin" || e.ClassID != "alert" {
			t.Errorf("message %d: %+v / %+v", i, m, e)
		}
	}
	if got := externalIDs(t, msgs); strings.Join(got, ",") != "f1,i1" {
		t.Fatalf("ids %v", got)
	}
	// A client that does not trust the receiver's CA never sends.
	bad := openSyslog(t, "tls://"+r.addr, t.TempDir(), &tls.Config{})
	bad.Write(context.Background(), recs("never"))
	time.Sleep(300 * time.Millisecond)
	if n, q := bad.Stats(); n != 0 || q == 0 {
		t.Fatalf("an untrusted receiver got %d messages (queued %d)", n, q)
	}
	bad.Close()
}

// TestSyslogResendsWhatABrokenConnectionLost: a receiver that closes the
// connection after one frame loses what followed on it; the sink sends
// it again on a new connection. After a clean Close, nothing is sent twice.
func TestSyslogResendsWhatABrokenConnectionLost(t *testing.T) {
	r := newReceiver(t, "tcp", nil)
	r.mu.Lock()
	r.dropAfter = 1
	r.mu.Unlock()
	spool := t.TempDir()
	s := openSyslog(t, "tcp://"+r.addr, spool, nil)
	if err := s.Write(context.Background(), recs("a", "b", "c", "d", "e")); err != nil {
		t.Fatal(err)
	}
	seen := func() map[string]int {
		out := map[string]int{}
		for _, id := range externalIDs(t, r.messages()) {
			out[id]++
		}
		return out
	}
	testwait.For(t, 10*time.Second, "a to e", testwait.True(func() bool { return len(seen()) == 5 }))
	r.mu.Lock()
	conns := r.conns
	r.mu.Unlock()
	if conns < 2 {
		t.Fatalf("%d connections: the drop was not seen", conns)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := len(r.messages())
	s = openSyslog(t, "tcp://"+r.addr, spool, nil)
	defer s.Close()
	if err := s.Write(context.Background(), recs("a", "f")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "f", testwait.True(func() bool { return seen()["f"] == 1 }))
	if after := len(r.messages()); after != before+1 {
		t.Fatalf("%d messages after reopening, want %d: a settled message was sent again", after, before+1)
	}
}

// TestSyslogUDPCutsWithAMarker: over UDP a message stays within 2,048
// bytes, its long values cut and marked, never cut silently.
func TestSyslogUDPCutsWithAMarker(t *testing.T) {
	r := newReceiver(t, "udp", nil)
	s := openSyslog(t, "udp://"+r.addr+"?format=leef", t.TempDir(), nil)
	defer s.Close()
	long := rec("long")
	long.Body = strings.Repeat("the body of a long advisory; ", 300)
	long.Action = strings.Repeat("patch ", 100)
	if err := s.Write(context.Background(), []*Record{long}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the message", testwait.True(func() bool { return len(r.messages()) == 1 }))
	m := r.messages()[0]
	b, _ := m.Bytes()
	if len(b) > 2048 || len(b) < 1800 {
		t.Fatalf("%d bytes over UDP, want at most 2048 (and not much less)", len(b))
	}
	e, err := socfmt.ParseLEEF(m.Msg)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := socfmt.Get(e.Attributes, "msg")
	id, _ := socfmt.Get(e.Attributes, "id")
	if !strings.HasSuffix(msg, socfmt.Truncated) || id != "long" {
		t.Fatalf("msg %q, id %q", msg, id)
	}
}

func TestSyslogURLs(t *testing.T) {
	for raw, want := range map[string]syslogTarget{
		"tcp://siem:514":                       {"tcp", "siem:514", "cef", 16, 8096},
		"tls://siem:6514?format=leef":          {"tls", "siem:6514", "leef", 16, 8096},
		"udp://[::1]:514?facility=13&max=1024": {"udp", "[::1]:514", "cef", 13, 1024},
		"udp://siem:514?facility=authpriv":     {"udp", "siem:514", "cef", 10, 2048},
	} {
		got, err := parseSyslogURL(raw)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"siem:514", "http://siem:514", "tcp://siem", "tcp://siem:514/x", "tcp://siem:514?format=json",
		"tcp://siem:514?facility=24", "udp://siem:514?max=100", "tcp://siem:514?colour=red"} {
		if _, err := ParseSinkSpec("syslog:" + raw); !errors.Is(err, ErrSinkSpec) {
			t.Errorf("syslog:%s: %v", raw, err)
		}
	}
}

// TestAgentToSyslog: an alert routed to a member reaches a syslog
// receiver through the agent, as CEF over TLS.
func TestAgentToSyslog(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	tt := newTestTLS(t)
	r := newReceiver(t, "tls", tt.server)
	dir := t.TempDir()
	s := openSyslog(t, "tls://"+r.addr+"?format=cef", filepath.Join(dir, "state", "syslog"), tt.client)
	a, _ := w.start(w.agentOptions("bridge", filepath.Join(dir, "state"), s))
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	al := alert("ransomware | at=the door\nsecond line", "patient-care")
	al.Lane = tocsinv1.Lane_LANE_FLASH
	envs := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, al)
	w.Routed("st-mary", envs)
	testwait.For(t, 30*time.Second, "the alert over syslog", testwait.True(func() bool { return len(r.messages()) == 1 }))
	m := r.messages()[0]
	e, err := socfmt.ParseCEF(m.Msg)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := socfmt.Get(e.Extension, "externalId")
	sender, _ := socfmt.Get(e.Extension, "cs3")
	action, _ := socfmt.Get(e.Extension, "cs5")
	dhost, _ := socfmt.Get(e.Extension, "dhost")
	list, _ := socfmt.Get(e.Extension, "indicators")
	if id != envs[0].GetId() || e.Name != "ransomware | at=the door second line" || e.Severity != 10 || m.Severity != 2 ||
		sender != "st-mary" || action != "block the domain" || !strings.HasSuffix(dhost, ".example") ||
		list != "domain-name:value = "+dhost {
		t.Fatalf("message %+v, CEF %+v", m, e)
	}
}

// TestSyslogConfig: the config opens a syslog sink with its TLS files, and
// refuses a CA file without a certificate or a certificate without its key.
func TestSyslogConfig(t *testing.T) {
	tt := newTestTLS(t)
	r := newReceiver(t, "tls", tt.server)
	cfg := Config{State: t.TempDir(), Sinks: []string{"syslog:tls://" + r.addr + "?format=leef"}, SyslogConfig: SyslogConfig{SyslogTLSCA: tt.caFile}}
	o, err := cfg.Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := o.Sinks[0].(*Syslog)
	if err := s.Write(context.Background(), recs("c1")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "c1 through the config's TLS", testwait.True(func() bool { return len(r.messages()) == 1 }))
	if _, err := socfmt.ParseLEEF(r.messages()[0].Msg); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for name, bad := range map[string]SyslogConfig{
		"a CA file with no certificate": {SyslogTLSCA: tt.keyFile},
		"a certificate without its key": {SyslogTLSCert: tt.certFile},
		"a missing CA file":             {SyslogTLSCA: filepath.Join(t.TempDir(), "none.pem")},
	} {
		cfg.SyslogConfig = bad
		if _, err := cfg.Options(nil); !errors.Is(err, ErrSinkSpec) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// BenchmarkSyslogMessage: one record to one RFC 5424 message with its CEF
// or LEEF event, as Write spools it.
func BenchmarkSyslogMessage(b *testing.B) {
	for _, format := range []string{"cef", "leef"} {
		b.Run(format, func(b *testing.B) {
			s, err := OpenSyslog(SyslogOptions{URL: "tcp://127.0.0.1:9?format=" + format, SpoolDir: b.TempDir()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			r := rec("bench")
			r.Action = "block c2.example = the C2 | then patch\nand report"
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.message(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSyslogIndicators: the matchable rows of a record's indicators fill
// CEF's own keys (the first of each kind), and every row is listed.
func TestSyslogIndicators(t *testing.T) {
	r := rec("ind")
	r.Indicators = patternIndicators("indicator--1", "c2", "stix",
		"[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example'] OR [file:hashes.'SHA-256' = 'ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12'] OR "+
			"([ipv4-addr:value = '203.0.113.9'] AND [url:value = 'https://x.example/a=b|c'])", "", "")
	for _, format := range []string{"cef", "leef"} {
		_, fields := socEvent(t, r, format)
		for key, want := range map[string]string{"dst": "198.51.100.7", "dhost": "c2.example", "fileHash": "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
			"indicators": "ipv4-addr:value = 198.51.100.7, domain-name:value = c2.example, file:hashes.'SHA-256' = ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12, " +
				"ipv4-addr:value = 203.0.113.9, url:value = https://x.example/a=b|c"} {
			if got, _ := socfmt.Get(fields, key); got != want {
				t.Errorf("%s %s = %q, want %q", format, key, got, want)
			}
		}
		if got, ok := socfmt.Get(fields, "request"); ok {
			t.Errorf("%s request = %q: a URL ANDed with another comparison matches nothing alone", format, got)
		}
	}
}

// TestSyslogKeepsItsSpoolAcrossAFormatChange: messages queued while the
// receiver was away go out when it is back, in the format they were made
// in, after the URL's format changed.
func TestSyslogKeepsItsSpoolAcrossAFormatChange(t *testing.T) {
	ports, err := freeport.Pick("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	spool := t.TempDir()
	s := openSyslog(t, "tcp://"+addr+"?format=cef", spool, nil)
	if err := s.Write(context.Background(), recs("queued")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := newReceiver(t, "tcp", nil, addr)
	s = openSyslog(t, "tcp://"+addr+"?format=leef", spool, nil)
	defer s.Close()
	if err := s.Write(context.Background(), recs("later")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "both messages", testwait.True(func() bool { return len(r.messages()) == 2 }))
	msgs := r.messages()
	if !strings.HasPrefix(msgs[0].Msg, "CEF:0|") || !strings.HasPrefix(msgs[1].Msg, "LEEF:2.0|") || !strings.Contains(msgs[0].Msg, "externalId=queued") {
		t.Fatalf("got %q and %q", msgs[0].Msg, msgs[1].Msg)
	}
}
