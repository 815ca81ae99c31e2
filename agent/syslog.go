package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent/socfmt"
)

// SyslogOptions configures a syslog sink.
type SyslogOptions struct {
	// URL is the receiver: tcp://HOST:PORT, tls://HOST:PORT or
	// udp://HOST:PORT, with the query format=cef (the default) or
	// format=leef, facility=NAME or 0-23 (default local0) and max=BYTES,
	// the longest message sent (default 2048 over UDP, 8096 otherwise:
	// rsyslog's default maxMessageSize). Required.
	URL string
	// SpoolDir holds the queue of messages still to send. Required.
	SpoolDir string
	// TLS configures tls:// connections. Default: the system's roots, the
	// URL's host as the server name.
	TLS *tls.Config
	// Hostname is the HOSTNAME of every message. Default os.Hostname().
	Hostname string
	// Settle is how long a message written to a TCP or TLS connection must
	// stay there, the connection not closed by the receiver, before it
	// counts as delivered: messages written within Settle of a broken
	// connection are sent again on the next one. Default 1s.
	Settle time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting after a
	// failure; it doubles after each. Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds each dial and each write. Default 10s.
	Timeout time.Duration
}

// syslogTarget is a parsed syslog URL.
type syslogTarget struct {
	network  string // tcp, tls or udp
	addr     string // host:port
	format   string // cef or leef
	facility int
	max      int
}

var facilities = map[string]int{"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13, "alert": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// parseSyslogURL checks a syslog sink's URL and fills its defaults.
func parseSyslogURL(raw string) (syslogTarget, error) {
	bad := func(format string, v ...any) (syslogTarget, error) {
		return syslogTarget{}, fmt.Errorf("%w syslog:%s: %s", ErrSinkSpec, raw, fmt.Sprintf(format, v...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%v", err)
	}
	t := syslogTarget{network: u.Scheme, addr: u.Host, format: "cef", facility: facilities["local0"], max: 8096}
	switch u.Scheme {
	case "tcp", "tls":
	case "udp":
		t.max = 2048
	default:
		return bad("use tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT")
	}
	if host, port, err := net.SplitHostPort(u.Host); err != nil || host == "" || port == "" || (u.Path != "" && u.Path != "/") {
		return bad("the receiver must be HOST:PORT, with no path")
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "format":
			if v != "cef" && v != "leef" {
				return bad("format %q: use cef or leef", v)
			}
			t.format = v
		case "facility":
			f, ok := facilities[v]
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 23 {
				f, ok = n, true
			}
			if !ok {
				return bad("facility %q: use a name (local0, auth, ...) or 0 to 23", v)
			}
			t.facility = f
		case "max":
			n, err := strconv.Atoi(v)
			if err != nil || n < 480 || n > socfmt.MaxFrame {
				return bad("max %q: use 480 to %d bytes (RFC 5426 receivers take at least 480)", v, socfmt.MaxFrame)
			}
			t.max = n
		default:
			return bad("unknown parameter %q; use format, facility or max", k)
		}
	}
	return t, nil
}

// Syslog is a sink that sends each record as one RFC 5424 message, its MSG
// a CEF or LEEF 2.0 event, to a syslog receiver: over TCP or TLS framed by
// octet counting (RFC 6587, RFC 5425), or over UDP one datagram a message
// (RFC 5426). A message longer than the URL's max has its longest values
// cut, each ending " [truncated]", never cut silently. Write only queues
// the messages in a durable spool (fsync) and returns; a background sender
// keeps one connection and sends the spool in order, reconnecting after a
// failure and sending again whatever had not settled (see
// SyslogOptions.Settle): a message is sent at least once, never dropped.
// Over UDP nothing tells a lost datagram: a message is counted once sent.
type Syslog struct {
	opts   SyslogOptions
	target syslogTarget
	log    *zap.Logger
	spool  *spool

	sent atomic.Int64
	stop context.CancelFunc
	done chan struct{}
}

// OpenSyslog opens the spool and starts the sender.
func OpenSyslog(opts SyslogOptions, log *zap.Logger) (*Syslog, error) {
	if log == nil {
		log = zap.NewNop()
	}
	t, err := parseSyslogURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Settle < 0 || opts.MinBackoff < 0 || opts.MaxBackoff < 0 || opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: syslog %s: settle, backoffs and timeout cannot be negative; use 0 for the defaults", ErrSinkSpec, opts.URL)
	}
	opts.Settle = cmpOr(opts.Settle, time.Second)
	opts.MinBackoff = cmpOr(opts.MinBackoff, 500*time.Millisecond)
	opts.MaxBackoff = cmpOr(opts.MaxBackoff, 30*time.Second)
	opts.Timeout = cmpOr(opts.Timeout, 10*time.Second)
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	opts.Hostname = socfmt.Printable(opts.Hostname, 255)
	if t.network == "tls" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if opts.TLS != nil {
			cfg = opts.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(t.addr)
		}
		opts.TLS = cfg
	}
	// One spool per receiver, whatever the format: messages queued before
	// a change of format go out as they were made, never left behind.
	sp, err := openSpool(opts.SpoolDir, spoolName("syslog", t.network+"://"+t.addr))
	if err != nil {
		return nil, err
	}
	s := &Syslog{opts: opts, target: t, log: log.Named("syslog").With(zap.String("url", opts.URL)), spool: sp, done: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.send(ctx)
	return s, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Name implements Sink.
func (s *Syslog) Name() string { return "syslog:" + s.opts.URL }

// Write implements Sink: the new records' messages are queued durably.
func (s *Syslog) Write(_ context.Context, recs []*Record) error {
	if err := s.spool.add(recs, s.message); err != nil {
		return fmt.Errorf("syslog sink: %w", err)
	}
	return nil
}

// Stats returns how many messages were sent since the sink opened and the
// bytes still queued.
func (s *Syslog) Stats() (sent, queuedBytes int64) { return s.sent.Load(), s.spool.q.pending() }

// send keeps a connection and sends the spool until ctx ends.
func (s *Syslog) send(ctx context.Context) {
	defer close(s.done)
	b := backoff{min: s.opts.MinBackoff, max: s.opts.MaxBackoff}
	for ctx.Err() == nil {
		conn, err := s.dial(ctx)
		if err == nil {
			if s.target.network == "udp" {
				err = s.datagrams(ctx, conn, &b)
			} else {
				err = s.stream(ctx, conn, &b)
			}
			conn.Close()
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("syslog receiver unreachable; the messages stay queued and go when it answers", zap.Error(err))
		b.wait(ctx)
	}
}

func (s *Syslog) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.opts.Timeout}
	if s.target.network == "tls" {
		return (&tls.Dialer{NetDialer: d, Config: s.opts.TLS}).DialContext(ctx, "tcp", s.target.addr)
	}
	return d.DialContext(ctx, s.target.network, s.target.addr)
}

// syslogBatch is the most messages sent with one write.
const syslogBatch = 256

// stream sends the spool over a TCP or TLS connection, framed by octet
// counting, until the connection fails or ctx ends. What it wrote counts
// delivered once it has stayed Settle on a connection the receiver has not
// closed; when ctx ends, the connection is closed gracefully and what the
// receiver read up to the close counts delivered.
func (s *Syslog) stream(ctx context.Context, conn net.Conn, b *backoff) error {
	// A syslog receiver never writes: a read ends only when it closes or
	// the connection breaks.
	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, conn)
		if err == nil {
			err = io.EOF
		}
		closed <- err
	}()
	type written struct {
		next int64
		at   time.Time
	}
	var unsettled []written
	settle := func(all bool) error {
		for len(unsettled) > 0 && (all || time.Since(unsettled[0].at) >= s.opts.Settle) {
			if err := s.spool.q.advance(unsettled[0].next); err != nil {
				return err
			}
			unsettled = unsettled[1:]
		}
		return nil
	}
	_, off, err := s.spool.q.peek(0)
	if err != nil {
		return err
	}
	tick := time.NewTicker(s.opts.Settle / 2)
	defer tick.Stop()
	for {
		items, next, err := s.spool.q.peekFrom(off, syslogBatch)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			select {
			case err := <-closed:
				return fmt.Errorf("the receiver closed the connection: %w", err)
			case <-s.spool.q.wait():
			case <-tick.C:
			case <-ctx.Done():
				return s.closeGracefully(conn, closed, func() error { return settle(true) })
			}
			if err := settle(false); err != nil {
				return err
			}
			continue
		}
		var frames []byte
		for _, it := range items {
			_, msg := splitItem(it)
			frames = socfmt.AppendFrame(frames, msg)
		}
		conn.SetWriteDeadline(time.Now().Add(s.opts.Timeout))
		if _, err := conn.Write(frames); err != nil {
			return err
		}
		s.sent.Add(int64(len(items)))
		b.reset()
		unsettled = append(unsettled, written{next, time.Now()})
		off = next
		if err := settle(false); err != nil {
			return err
		}
	}
}

// closeGracefully half-closes conn and waits a moment for the receiver to
// close its side: a receiver that saw the end of the stream read all of
// it, so done runs then. Otherwise what is unsettled is sent again at the
// next start.
func (s *Syslog) closeGracefully(conn net.Conn, closed <-chan error, done func() error) error {
	type closeWriter interface{ CloseWrite() error }
	cw, ok := conn.(closeWriter)
	if !ok || cw.CloseWrite() != nil {
		return nil
	}
	select {
	case err := <-closed:
		if errors.Is(err, io.EOF) {
			return done()
		}
	case <-time.After(2 * time.Second):
	}
	return nil
}

// datagrams sends the spool over UDP, one message a datagram.
func (s *Syslog) datagrams(ctx context.Context, conn net.Conn, b *backoff) error {
	for {
		items, next, err := s.spool.q.peek(syslogBatch)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			if !idle(ctx, s.spool.q, time.Second) {
				return nil
			}
			continue
		}
		for _, it := range items {
			_, msg := splitItem(it)
			conn.SetWriteDeadline(time.Now().Add(s.opts.Timeout))
			if _, err := conn.Write(msg); err != nil {
				return err
			}
		}
		s.sent.Add(int64(len(items)))
		b.reset()
		if err := s.spool.q.advance(next); err != nil {
			return err
		}
	}
}

// Close stops the sender (closing its connection gracefully) and closes
// the spool.
func (s *Syslog) Close() error {
	s.stop()
	<-s.done
	return s.spool.close()
}
