package socfmt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hostile are values a sender controls (a title, an action) that try to
// break out of their field.
var hostile = []string{
	"plain",
	"",
	" ",
	"  two leading, one trailing ",
	"pipe | in | it",
	"a=b",
	"=",
	"==",
	`back\slash`,
	`\`,
	`ends in a backslash\`,
	`\\`,
	`\=`,
	`\n is text, not a line break`,
	"line one\nline two",
	"carriage\rreturn",
	"crlf\r\nhere",
	"\n",
	"tab\there",
	"fake=field cs1=injected act=allow",
	"x=1 y=",
	`|CEF:0|evil|`,
	"]\"[sd@1 a=\"b\"]",
	"ünïcødé — 患者 🚑",
	"LEEF:2.0|x|y|z|w|x09|k=v",
}

func TestCEFRoundTripsHostileValues(t *testing.T) {
	for _, h := range hostile {
		e := CEF{Vendor: "Tocsin", Product: "agent", Version: "1", ClassID: "alert", Name: h, Severity: 10,
			Extension: []Field{{"msg", h}, {"cs1Label", "title"}, {"cs1", h}, {"act", h}}}
		s, err := e.String()
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		if strings.ContainsAny(s, "\r\n") {
			t.Fatalf("%q: a raw line break in %q", h, s)
		}
		got, err := ParseCEF(s)
		if err != nil {
			t.Fatalf("%q: %q does not parse: %v", h, s, err)
		}
		wantName := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(h)
		if got.Name != wantName || got.Vendor != "Tocsin" || got.Severity != 10 || got.ClassID != "alert" {
			t.Fatalf("%q: header came back as %+v from %q", h, got, s)
		}
		if len(got.Extension) != 4 {
			t.Fatalf("%q: %d extension fields from %q, want 4: %+v", h, len(got.Extension), s, got.Extension)
		}
		for i, f := range e.Extension {
			if got.Extension[i] != f {
				t.Fatalf("%q: field %d came back as %+v from %q", h, i, got.Extension[i], s)
			}
		}
	}
}

// TestCEFEscapesAsTheSpecSays pins the bytes: a reader other than ours
// must see the same thing.
func TestCEFEscapesAsTheSpecSays(t *testing.T) {
	s, err := CEF{Vendor: `a|b\c`, Product: "p", Version: "1", ClassID: "c=d", Name: "two\nlines", Severity: 5,
		Extension: []Field{{"msg", "x=y\\z\nw\rv|u"}, {"act", "ok"}}}.String()
	if err != nil {
		t.Fatal(err)
	}
	want := `CEF:0|a\|b\\c|p|1|c=d|two lines|5|msg=x\=y\\z\nw\rv|u act=ok`
	if s != want {
		t.Fatalf("\n got %s\nwant %s", s, want)
	}
}

func TestCEFRejects(t *testing.T) {
	if _, err := (CEF{Severity: 11}).String(); !errors.Is(err, ErrFormat) {
		t.Errorf("severity 11: %v", err)
	}
	if _, err := (CEF{Extension: []Field{{"bad key", "v"}}}).String(); !errors.Is(err, ErrFormat) {
		t.Errorf("a key with a space: %v", err)
	}
	for _, s := range []string{
		"CEF:1|a|b|c|d|e|5|",         // version
		"CEF:0|a|b|c|d|e|",           // too few fields
		"CEF:0|a|b|c|d|e|11|",        // severity
		`CEF:0|a\x|b|c|d|e|5|`,       // a header escape that is not \| or \\
		"CEF:0|a|b|c|d|e|5|k=v\\t",   // a value escape that is not defined
		"CEF:0|a|b|c|d|e|5|k=a=b",    // an unescaped = inside a value
		"CEF:0|a|b|c|d|e|5|k=a\nb",   // a raw line break
		"CEF:0|a|b|c|d|e|5|junk k=v", // text before the first key
		"CEF:0|a|b|c|d|e|5|k=v\\",    // a lone backslash
	} {
		if _, err := ParseCEF(s); !errors.Is(err, ErrFormat) {
			t.Errorf("%q parsed (%v); a strict reader rejects it", s, err)
		}
	}
}

func TestLEEFRoundTripsHostileValues(t *testing.T) {
	for _, d := range []byte{0, '^'} {
		for _, h := range hostile {
			e := LEEF{Vendor: "Tocsin", Product: "agent", Version: "1", EventID: "alert", Delimiter: d,
				Attributes: []Field{{"sev", "10"}, {"msg", h}, {"cat", h}}}
			s, err := e.String()
			if err != nil {
				t.Fatalf("%q: %v", h, err)
			}
			got, err := ParseLEEF(s)
			if err != nil {
				t.Fatalf("%q: %q does not parse: %v", h, s, err)
			}
			if len(got.Attributes) != 3 || got.EventID != "alert" || got.Delimiter != e.delimiter() {
				t.Fatalf("%q: %q came back as %+v", h, s, got)
			}
			want := CleanLEEFValue(h, d)
			if got.Attributes[1].Value != want || got.Attributes[2].Value != want {
				t.Fatalf("%q: came back as %+v from %q, want %q", h, got.Attributes, s, want)
			}
			if strings.ContainsAny(want, "\r\n") || strings.IndexByte(want, e.delimiter()) >= 0 {
				t.Fatalf("%q: the clean value %q still holds a break or the delimiter", h, want)
			}
		}
	}
}

func TestLEEFBytes(t *testing.T) {
	s, err := LEEF{Vendor: "Tocsin", Product: "agent", Version: "1", EventID: "alert",
		Attributes: []Field{{"sev", "10"}, {"msg", "a\tb\nc=d|e\\f"}}}.String()
	if err != nil {
		t.Fatal(err)
	}
	if want := "LEEF:2.0|Tocsin|agent|1|alert|x09|sev=10\tmsg=a b c=d|e\\f"; s != want {
		t.Fatalf("\n got %q\nwant %q", s, want)
	}
	if _, err := (LEEF{Vendor: "a|b"}).String(); !errors.Is(err, ErrFormat) {
		t.Errorf("a pipe in the header: %v", err)
	}
	for _, s := range []string{"LEEF:1.0|a|b|c|d|", "LEEF:2.0|a|b|c|d|", "LEEF:2.0|a|b|c|d|xZZ|k=v", "LEEF:2.0|a|b|c|d|^|novalue"} {
		if _, err := ParseLEEF(s); !errors.Is(err, ErrFormat) {
			t.Errorf("%q parsed (%v)", s, err)
		}
	}
	for spelled, want := range map[string]byte{"^": '^', "x5E": '^', "0x5e": '^', "": '\t', "x09": '\t'} {
		e, err := ParseLEEF("LEEF:2.0|a|b|c|d|" + spelled + "|k=v")
		if err != nil || e.Delimiter != want {
			t.Errorf("delimiter %q: %q %v, want %q", spelled, e.Delimiter, err, want)
		}
	}
}

func TestRFC5424RoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 6, 52, 56, 123_456_789, time.FixedZone("x", 3600))
	for _, h := range hostile {
		m := Message{Facility: 16, Severity: 2, Time: at, Hostname: "agent.st-mary.example", AppName: "tocsin", ProcID: "4242",
			MsgID: "alert", StructuredData: []SDElement{{ID: "origin", Params: []Field{{"software", h}}}}, Msg: "CEF:0|" + h}
		b, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("%q: %q: %v", h, b, err)
		}
		if !got.Time.Equal(at.Truncate(time.Millisecond)) || got.Facility != 16 || got.Severity != 2 || got.Hostname != m.Hostname ||
			got.AppName != "tocsin" || got.ProcID != "4242" || got.MsgID != "alert" || got.Msg != m.Msg ||
			len(got.StructuredData) != 1 || got.StructuredData[0].Params[0].Value != h {
			t.Fatalf("%q: %q came back as %+v", h, b, got)
		}
	}
	b, _ := Message{Facility: 16, Severity: 2, Time: at, Msg: "CEF:0|x"}.Bytes()
	if want := "<130>1 2026-12-07T05:52:56.123Z - - - - - CEF:0|x"; string(b) != want {
		t.Fatalf("\n got %q\nwant %q", b, want)
	}
	if _, err := (Message{Hostname: "has space"}).Bytes(); !errors.Is(err, ErrFormat) {
		t.Errorf("a hostname with a space: %v", err)
	}
	for _, s := range []string{
		"<130>1 2026-12-07T05:52:56.123Z - - - -",          // no SD
		"<192>1 - - - - - -",                               // PRI
		"<013>1 - - - - - -",                               // leading zero
		"<13>2 - - - - - -",                                // version
		"<13>1 2026-12-07 05:52:56 - - - - -",              // not RFC 3339
		"<13>1 2026-12-07T05:52:56.1234567Z - - - - -",     // 7 fraction digits
		"<13>1 - - - - - -x",                               // no space before MSG
		"<13>1 - - - - - [a b=\"c]",                        // unterminated
		"<13>1 - - - - - [a b=\"c]\"]",                     // unescaped ]
		"<13>1 - " + strings.Repeat("h", 256) + " - - - -", // hostname too long
	} {
		if _, err := ParseMessage([]byte(s)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q parsed (%v)", s, err)
		}
	}
}

func TestOctetCounting(t *testing.T) {
	var stream []byte
	msgs := []string{"<13>1 - - - - - - one", "<13>1 - - - - - - two\nlines", "x"}
	for _, m := range msgs {
		stream = AppendFrame(stream, []byte(m))
	}
	if !bytes.HasPrefix(stream, []byte("21 <13>1")) {
		t.Fatalf("stream starts %q", stream[:10])
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, m := range msgs {
		got, err := ReadFrame(r)
		if err != nil || string(got) != m {
			t.Fatalf("%q %v, want %q", got, err, m)
		}
	}
	if _, err := ReadFrame(r); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
	if _, err := ReadFrame(bufio.NewReader(strings.NewReader("10 short"))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a stream that ends inside a frame: %v", err)
	}
	for _, s := range []string{"05 hello", "5hello", "x", " 5 hello"} {
		if _, err := ReadFrame(bufio.NewReader(strings.NewReader(s))); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v, want a framing error", s, err)
		}
	}
}

func TestFitCutsWithAMarker(t *testing.T) {
	title := strings.Repeat("é", 600)    // 1,200 bytes, 2 a rune
	body := strings.Repeat("a=b\n", 500) // 2,000 bytes, 4,000 escaped
	short := "keep me"
	enc := func() ([]byte, error) {
		s, err := CEF{Vendor: "T", Product: "a", Version: "1", ClassID: "alert", Name: title, Severity: 5,
			Extension: []Field{{"msg", body}, {"act", short}}}.String()
		return []byte(s), err
	}
	out, err := Fit(2048, enc, &title, &body, &short)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 2048 || len(out) < 1900 {
		t.Fatalf("%d bytes, want at most 2048 and not much less", len(out))
	}
	e, err := ParseCEF(string(out))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := Get(e.Extension, "msg")
	act, _ := Get(e.Extension, "act")
	if !strings.HasSuffix(msg, Truncated) || act != "keep me" || !utf8.ValidString(e.Name) {
		t.Fatalf("msg %q... act %q name valid %v", msg[:20], act, utf8.ValidString(e.Name))
	}
	if _, err := Fit(10, enc, &short); !errors.Is(err, ErrFormat) {
		t.Fatalf("an event that cannot fit: %v", err)
	}
}

// FuzzCEFRoundTrip: whatever a value holds, it comes back as it was.
func FuzzCEFRoundTrip(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, h)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		e := CEF{Vendor: "T", Product: "a", Version: "1", ClassID: "alert", Name: "n", Severity: 1,
			Extension: []Field{{"msg", a}, {"act", b}}}
		s, err := e.String()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseCEF(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if len(got.Extension) != 2 || got.Extension[0].Value != a || got.Extension[1].Value != b {
			t.Fatalf("%q came back as %+v", s, got.Extension)
		}
	})
}

// FuzzLEEFRoundTrip: whatever a value holds, it comes back as LEEF can
// carry it (delimiter and line breaks as spaces), and nothing else changes.
func FuzzLEEFRoundTrip(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, byte('^'))
	}
	f.Fuzz(func(t *testing.T, v string, d byte) {
		e := LEEF{Vendor: "T", Product: "a", Version: "1", EventID: "alert", Delimiter: d, Attributes: []Field{{"msg", v}, {"sev", "5"}}}
		s, err := e.String()
		if err != nil {
			if d != 0 && !usableDelimiter(d) {
				return // a delimiter LEEF cannot use, refused
			}
			t.Fatal(err)
		}
		got, err := ParseLEEF(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if len(got.Attributes) != 2 || got.Attributes[0].Value != CleanLEEFValue(v, d) || got.Attributes[1].Value != "5" {
			t.Fatalf("%q came back as %+v", s, got.Attributes)
		}
	})
}
