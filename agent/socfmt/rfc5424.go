package socfmt

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Message is one RFC 5424 syslog message.
type Message struct {
	// Facility is 0 to 23 (16 is local0); Severity 0 (emergency) to 7 (debug).
	Facility, Severity int
	// Time is when the event happened; written in UTC with milliseconds.
	// The zero time is written as the NILVALUE.
	Time time.Time
	// Hostname, AppName, ProcID and MsgID are printable US-ASCII without
	// spaces, at most 255, 48, 128 and 32 bytes; empty is the NILVALUE.
	Hostname, AppName, ProcID, MsgID string
	// StructuredData are the SD-ELEMENTs; none is the NILVALUE.
	StructuredData []SDElement
	// Msg is the message itself (a CEF or LEEF event), written as it is:
	// without a BOM, so a reader that looks for "CEF:" finds it first.
	Msg string
}

// SDElement is one structured-data element: [id name="value" ...].
type SDElement struct {
	ID     string
	Params []Field
}

// Timestamp is the layout of Message.Time: RFC 3339 in UTC, milliseconds.
const Timestamp = "2006-01-02T15:04:05.000Z07:00"

// Bytes encodes m: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG".
func (m Message) Bytes() ([]byte, error) {
	if m.Facility < 0 || m.Facility > 23 || m.Severity < 0 || m.Severity > 7 {
		return nil, fmt.Errorf("%w: syslog facility %d or severity %d out of range (0-23, 0-7)", ErrFormat, m.Facility, m.Severity)
	}
	b := make([]byte, 0, 128+len(m.Msg))
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(m.Facility*8+m.Severity), 10)
	b = append(b, ">1 "...)
	if m.Time.IsZero() {
		b = append(b, '-')
	} else {
		b = m.Time.UTC().AppendFormat(b, Timestamp)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"HOSTNAME", m.Hostname, 255}, {"APP-NAME", m.AppName, 48}, {"PROCID", m.ProcID, 128}, {"MSGID", m.MsgID, 32}} {
		if err := checkHeaderField(f.name, f.v, f.max); err != nil {
			return nil, err
		}
		b = append(b, ' ')
		b = append(b, nilOr(f.v)...)
	}
	b = append(b, ' ')
	if len(m.StructuredData) == 0 {
		b = append(b, '-')
	}
	for _, e := range m.StructuredData {
		if err := checkSDName(e.ID); err != nil {
			return nil, err
		}
		b = append(b, '[')
		b = append(b, e.ID...)
		for _, p := range e.Params {
			if err := checkSDName(p.Key); err != nil {
				return nil, err
			}
			b = append(b, ' ')
			b = append(b, p.Key...)
			b = append(b, `="`...)
			b = append(b, sdEscaper.Replace(p.Value)...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if m.Msg != "" {
		b = append(b, ' ')
		b = append(b, m.Msg...)
	}
	return b, nil
}

var sdEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

func nilOr(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// Printable makes v a valid header field of at most max bytes: each byte
// outside printable US-ASCII (a space too) becomes an underscore.
func Printable(v string, max int) string {
	b := []byte(v)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}

func checkHeaderField(name, v string, max int) error {
	if len(v) > max || Printable(v, max) != v {
		return fmt.Errorf("%w: syslog %s %q: at most %d printable US-ASCII bytes without spaces", ErrFormat, name, v, max)
	}
	return nil
}

func checkSDName(v string) error {
	if v == "" || len(v) > 32 || Printable(v, 32) != v || strings.ContainsAny(v, `= ]"`) {
		return fmt.Errorf("%w: syslog SD name %q: 1 to 32 printable US-ASCII bytes, none of = ] \" or space", ErrFormat, v)
	}
	return nil
}

// ParseMessage reads one RFC 5424 message, strictly (section 6's ABNF):
// the PRI, version 1, a full-date T full-time timestamp or -, the four
// header fields, structured data or -, then the MSG after one space.
func ParseMessage(data []byte) (Message, error) {
	s := string(data)
	bad := func(format string, v ...any) (Message, error) {
		return Message{}, fmt.Errorf("%w: RFC 5424: %s", ErrFormat, fmt.Sprintf(format, v...))
	}
	end := strings.Index(s, ">")
	if !strings.HasPrefix(s, "<") || end < 2 || end > 4 {
		return bad("no <PRI>")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 || strconv.Itoa(pri) != s[1:end] {
		return bad("PRI %q is not 0 to 191 without leading zeros", s[1:end])
	}
	m := Message{Facility: pri / 8, Severity: pri % 8}
	rest, ok := strings.CutPrefix(s[end+1:], "1 ")
	if !ok {
		return bad("version is not 1")
	}
	fields := make([]string, 5)
	for i := range fields {
		if fields[i], rest, ok = strings.Cut(rest, " "); !ok {
			return bad("the header ends after %d fields", i)
		}
	}
	if fields[0] != "-" {
		if m.Time, err = time.Parse(time.RFC3339Nano, fields[0]); err != nil || !secFrac(fields[0]) {
			return bad("timestamp %q is not RFC 3339 with at most 6 digits of fraction", fields[0])
		}
	}
	for i, spec := range []struct {
		name string
		max  int
		dst  *string
	}{{"HOSTNAME", 255, &m.Hostname}, {"APP-NAME", 48, &m.AppName}, {"PROCID", 128, &m.ProcID}, {"MSGID", 32, &m.MsgID}} {
		v := fields[i+1]
		if v == "" || checkHeaderField(spec.name, v, spec.max) != nil {
			return bad("%s %q: 1 to %d printable US-ASCII bytes", spec.name, v, spec.max)
		}
		if v != "-" {
			*spec.dst = v
		}
	}
	sd, msg, err := parseSD(rest)
	if err != nil {
		return Message{}, err
	}
	m.StructuredData = sd
	if msg != "" {
		after, ok := strings.CutPrefix(msg, " ")
		if !ok {
			return bad("no space between the structured data and the MSG")
		}
		m.Msg = strings.TrimPrefix(after, "\uFEFF")
	}
	return m, nil
}

// secFrac reports whether the fraction of timestamp ts, if any, has 1 to
// 6 digits (TIME-SECFRAC).
func secFrac(ts string) bool {
	dot := strings.IndexByte(ts, '.')
	if dot < 0 {
		return true
	}
	n := len(ts[dot+1:]) - len(strings.TrimLeft(ts[dot+1:], "0123456789"))
	return n >= 1 && n <= 6
}

// parseSD reads "-" or one or more SD-ELEMENTs and returns what follows.
func parseSD(s string) ([]SDElement, string, error) {
	bad := func(format string, v ...any) ([]SDElement, string, error) {
		return nil, "", fmt.Errorf("%w: RFC 5424 structured data: %s", ErrFormat, fmt.Sprintf(format, v...))
	}
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		return nil, rest, nil
	}
	var out []SDElement
	for strings.HasPrefix(s, "[") {
		s = s[1:]
		i := strings.IndexAny(s, " ]")
		if i < 0 || checkSDName(s[:i]) != nil {
			return bad("bad SD-ID")
		}
		e := SDElement{ID: s[:i]}
		s = s[i:]
		for strings.HasPrefix(s, " ") {
			s = s[1:]
			eq := strings.Index(s, `="`)
			if eq < 0 || checkSDName(s[:eq]) != nil {
				return bad("bad PARAM-NAME in %s", e.ID)
			}
			name := s[:eq]
			s = s[eq+2:]
			var v strings.Builder
			for {
				if s == "" {
					return bad("unterminated PARAM-VALUE of %s", name)
				}
				c := s[0]
				s = s[1:]
				if c == '"' {
					break
				}
				if c == '\\' && s != "" && (s[0] == '"' || s[0] == '\\' || s[0] == ']') {
					c, s = s[0], s[1:]
				} else if c == ']' {
					return bad("an unescaped ] in the value of %s", name)
				}
				v.WriteByte(c)
			}
			e.Params = append(e.Params, Field{Key: name, Value: v.String()})
		}
		if !strings.HasPrefix(s, "]") {
			return bad("%s is not closed", e.ID)
		}
		s = s[1:]
		out = append(out, e)
	}
	if out == nil {
		return bad("neither - nor [")
	}
	return out, s, nil
}

// AppendFrame appends msg framed by octet counting (RFC 6587 3.4.1, the
// framing RFC 5425 prescribes over TLS): "LEN SP MSG".
func AppendFrame(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

// MaxFrame is the longest message ReadFrame accepts.
const MaxFrame = 1 << 20

// ReadFrame reads one octet-counted message: a length without leading
// zeros, one space, then exactly that many bytes. io.EOF means the stream
// ended between frames, io.ErrUnexpectedEOF inside one; a frame that is
// not octet counting wraps ErrFormat.
func ReadFrame(r *bufio.Reader) ([]byte, error) {
	var n int
	for digits := 0; ; digits++ {
		c, err := r.ReadByte()
		if err != nil {
			if digits == 0 && err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("octet counting: in the length: %w", noEOF(err))
		}
		switch {
		case c == ' ' && digits > 0:
			msg := make([]byte, n)
			if _, err := io.ReadFull(r, msg); err != nil {
				return nil, fmt.Errorf("octet counting: a frame of %d bytes: %w", n, noEOF(err))
			}
			return msg, nil
		case c >= '0' && c <= '9' && !(digits == 0 && c == '0'):
			n = n*10 + int(c-'0')
			if n > MaxFrame {
				return nil, fmt.Errorf("%w: octet counting: a frame over %d bytes", ErrFormat, MaxFrame)
			}
		default:
			return nil, fmt.Errorf("%w: octet counting: %q where the length's digits belong", ErrFormat, c)
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
