package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/agent/socfmt"
	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// rsyslogd is Debian's rsyslog, run by the test on loopback ports: TCP and
// TLS (imtcp, octet-counted frames; the gtls driver) and UDP (imudp). It
// writes every message it parsed as one line of out:
// input|facility|severity|timestamp|hostname|app|procid|msgid|sd|msg.
type rsyslogd struct {
	tcp, tls, udp string
	out           string
}

// rsyslogBinary is $RSYSLOGD or rsyslogd from PATH or /usr/sbin.
func rsyslogBinary() string {
	if p := os.Getenv("RSYSLOGD"); p != "" {
		return p
	}
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/rsyslogd"); err == nil {
		return "/usr/sbin/rsyslogd"
	}
	return ""
}

func startRsyslog(t testing.TB, tt testTLS) *rsyslogd {
	t.Helper()
	bin := rsyslogBinary()
	if bin == "" {
		t.Skip("rsyslogd is not installed: `make syslogd` installs Debian's rsyslog (the strict in-test receiver's tests still ran)")
	}
	ports, err := freeport.Pick("127.0.0.1", 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d := &rsyslogd{tcp: fmt.Sprintf("127.0.0.1:%d", ports[0]), tls: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		udp: fmt.Sprintf("127.0.0.1:%d", ports[2]), out: filepath.Join(dir, "out.log")}
	conf := fmt.Sprintf(`global(workDirectory=%q parser.escapeControlCharactersOnReceive="off" maxMessageSize="64k"
  defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q)
module(load="imtcp")
module(load="imudp")
template(name="fields" type="string"
  string="%%inputname%%|%%syslogfacility%%|%%syslogseverity%%|%%timereported:::date-rfc3339%%|%%hostname%%|%%app-name%%|%%procid%%|%%msgid%%|%%structured-data%%|%%msg%%\n")
input(type="imtcp" port="%d" address="127.0.0.1" name="tcp")
input(type="imtcp" port="%d" address="127.0.0.1" name="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" port="%d" address="127.0.0.1" name="udp")
action(type="omfile" file=%q template="fields")
`, dir, tt.caFile, tt.certFile, tt.keyFile, ports[0], ports[1], ports[2], d.out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-N1", "-f", confPath).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 refuses the test's config: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	logf, _ := os.Create(filepath.Join(dir, "rsyslogd.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logf.Name())
			t.Logf("rsyslogd's output:\n%s", data)
		}
	})
	for _, addr := range []string{d.tcp, d.tls} {
		testwait.For(t, 20*time.Second, "rsyslogd listening on "+addr, func() error {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	return d
}

// lines returns the lines rsyslogd wrote for input, split in their ten fields.
func (d *rsyslogd) lines(input string) [][]string {
	data, _ := os.ReadFile(d.out)
	var out [][]string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.SplitN(l, "|", 10)
		if len(f) == 10 && f[0] == input {
			out = append(out, f)
		}
	}
	return out
}

// TestSyslogThroughRsyslog: a real rsyslogd takes the sink's messages over
// TCP and TLS (octet counting) and UDP, parses their RFC 5424 headers into
// the fields we sent, and hands on a MSG whose CEF or LEEF event our strict
// readers parse back to the record's hostile values. The UDP message of a
// long advisory arrives within 2,048 bytes, cut with the marker.
func TestSyslogThroughRsyslog(t *testing.T) {
	tt := newTestTLS(t)
	d := startRsyslog(t, tt)
	hostile := rec("h1")
	hostile.Title = "pipe | eq = back\\slash\nnew line\r\nand crlf"
	hostile.Action = "block c2.example=evil\\ now\nthen patch"
	hostile.Contact = "soc@st-mary.example\tfax"
	hostile.Lane = "urgent"
	for _, c := range []struct{ input, url string }{
		{"tcp", "tcp://" + d.tcp + "?format=cef"},
		{"tls", "tls://" + d.tls + "?format=leef&facility=auth"},
		{"udp", "udp://" + d.udp + "?format=cef"},
	} {
		t.Run(c.input, func(t *testing.T) {
			s := openSyslog(t, c.url, t.TempDir(), tt.client)
			defer s.Close()
			long := rec("long-" + c.input)
			long.Kind = "advisory"
			long.Body = strings.Repeat("a long advisory body = many \\ words | ", 150)
			if err := s.Write(context.Background(), []*Record{hostile, long}); err != nil {
				t.Fatal(err)
			}
			testwait.For(t, 20*time.Second, "2 messages through rsyslogd", testwait.True(func() bool { return len(d.lines(c.input)) >= 2 }))
			lines := d.lines(c.input)
			f := lines[0]
			sev := severityOf(hostile)
			facility := "16"
			if c.input == "tls" {
				facility = "4"
			}
			if f[1] != facility || f[2] != strconv.Itoa(sev.Syslog) || f[4] != "agent.st-mary.example" || f[5] != "tocsin" ||
				f[6] != strconv.Itoa(os.Getpid()) || f[7] != "alert" || f[8] != "-" {
				t.Fatalf("rsyslogd parsed the header as %q", f[:9])
			}
			if ts, err := time.Parse(time.RFC3339, f[3]); err != nil || !ts.Equal(hostile.Routed.Truncate(time.Millisecond)) {
				t.Fatalf("timestamp %q (%v)", f[3], err)
			}
			values := func(msg string, cefSeverity int) map[string]string {
				out := map[string]string{}
				if c.input == "tls" {
					e, err := socfmt.ParseLEEF(msg)
					if err != nil {
						t.Fatalf("%q: %v", msg, err)
					}
					for _, a := range e.Attributes {
						out[a.Key] = a.Value
					}
					out["name"], out["action"], out["id"] = out["title"], out["recommendedAction"], out["id"]
					return out
				}
				e, err := socfmt.ParseCEF(msg)
				if err != nil {
					t.Fatalf("%q: %v", msg, err)
				}
				if e.Severity != cefSeverity || e.ClassID == "" {
					t.Fatalf("CEF header %+v", e)
				}
				for _, x := range e.Extension {
					out[x.Key] = x.Value
				}
				out["name"], out["action"], out["contact"], out["id"] = e.Name, out["cs5"], out["cs6"], out["externalId"]
				return out
			}
			got := values(f[9], sev.CEF)
			wantName := "pipe | eq = back\\slash new line and crlf"
			wantAction, wantContact := hostile.Action, hostile.Contact
			if c.input == "tls" { // LEEF: no escapes, so line breaks and tabs become spaces
				wantName = socfmt.CleanLEEFValue(hostile.Title, 0)
				wantAction = socfmt.CleanLEEFValue(hostile.Action, 0)
				wantContact = socfmt.CleanLEEFValue(hostile.Contact, 0)
			}
			if got["id"] != "h1" || got["name"] != wantName || got["action"] != wantAction || got["contact"] != wantContact {
				t.Fatalf("through rsyslogd: id %q name %q action %q contact %q", got["id"], got["name"], got["action"], got["contact"])
			}
			longMsg := values(lines[1][9], severityOf(long).CEF)["msg"]
			size := len(strings.Join(lines[1][1:], "|"))
			if c.input == "udp" && (!strings.HasSuffix(longMsg, socfmt.Truncated) || size > 2048) {
				t.Fatalf("over UDP the long advisory is %d bytes, msg ends %q", size, longMsg[max(0, len(longMsg)-20):])
			}
			if c.input != "udp" && longMsg != long.Body {
				t.Fatalf("over %s the long advisory's body came back as %d bytes, want %d whole", c.input, len(longMsg), len(long.Body))
			}
		})
	}
}

// BenchmarkSyslogToRsyslog: records written to a syslog sink (CEF over
// TCP) until rsyslogd has written every one to its file: the sink's
// delivery rate to a real daemon, spool fsyncs included (batches of 256).
func BenchmarkSyslogToRsyslog(b *testing.B) {
	tt := newTestTLS(b)
	d := startRsyslog(b, tt)
	s := openSyslog(b, "tcp://"+d.tcp+"?format=cef", b.TempDir(), nil)
	defer s.Close()
	batch := make([]*Record, 0, 256)
	b.ResetTimer()
	for i := range b.N {
		batch = append(batch, rec(fmt.Sprintf("b%d-%d", b.N, i)))
		if len(batch) == cap(batch) || i == b.N-1 {
			if err := s.Write(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	testwait.For(b, 5*time.Minute, "rsyslogd to write every record", testwait.True(func() bool { return len(d.lines("tcp")) >= b.N }))
}
