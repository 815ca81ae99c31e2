package agent

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/agent/socfmt"
	"github.com/tocsin-project/tocsin/records"
)

// The device a CEF or LEEF event names.
const (
	socVendor  = "Tocsin"
	socProduct = "Tocsin agent"
)

// socVersion is the Device Version: the module's version, "dev" in a
// build from a checkout.
var socVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}()

// severityOf is a record's severity: records.SeverityOf its lane, raised
// one lane when the member's inventory matched it (Record.severity).
func severityOf(r *Record) records.Severity { return r.severity() }

// socText is what a CEF or LEEF event says of a record in words; the
// pointers let socfmt.Fit cut the long ones.
type socText struct {
	title, msg, action, impact, contact, reason, indicators, affected string
}

func newSOCText(r *Record) socText {
	t := socText{title: r.Title, msg: r.Body, action: r.Action, impact: r.Impact, contact: r.Contact, reason: r.Reason,
		indicators: indicatorList(r), affected: affectedList(r)}
	if r.Exercise {
		t.title = "EXERCISE: " + t.title
	}
	if r.Revoked {
		t.title = "WITHDRAWN: " + t.title
	}
	if s := r.Summary; s != nil {
		t.msg = fmt.Sprintf("%d organisations in %s sighted indicator %s of alert %s", s.Organisations, s.Sector, s.IndicatorID, s.AlertID)
	}
	return t
}

func (t *socText) cuttable() []*string {
	return []*string{&t.title, &t.msg, &t.action, &t.impact, &t.contact, &t.reason, &t.indicators, &t.affected}
}

// affectedList spells the inventory rows a CSAF advisory matched, for the
// member's own SIEM: "status: vendor product version at location (owner),
// advisory product id", rows joined by "; ".
func affectedList(r *Record) string {
	parts := make([]string, 0, len(r.Affected))
	for _, f := range r.Affected {
		row := strings.Join(nonEmpty(f.Row.Vendor, f.Row.Product, f.Row.Version), " ")
		if f.Row.Location != "" {
			row += " at " + f.Row.Location
		}
		if f.Row.Owner != "" {
			row += " (" + f.Row.Owner + ")"
		}
		parts = append(parts, fmt.Sprintf("%s: %s, advisory product %s", f.Status, row, f.ProductID))
	}
	return strings.Join(parts, "; ")
}

func nonEmpty(v ...string) []string {
	return slices.DeleteFunc(v, func(s string) bool { return s == "" })
}

func millis(at time.Time) string {
	if at.IsZero() {
		return ""
	}
	return strconv.FormatInt(at.UnixMilli(), 10)
}

// cef is the CEF event of r (records.SeverityOf its lane in the header).
func cefOf(r *Record, t *socText) socfmt.CEF {
	ext := []socfmt.Field{
		{Key: "externalId", Value: r.ID},
		{Key: "rt", Value: millis(r.Routed)},
		{Key: "start", Value: millis(r.Time)},
		{Key: "msg", Value: t.msg},
		{Key: "cs1Label", Value: "tlp"}, {Key: "cs1", Value: r.TLP},
		{Key: "cs2Label", Value: "lane"}, {Key: "cs2", Value: r.Lane},
		{Key: "cs3Label", Value: "sender"}, {Key: "cs3", Value: r.Sender},
		{Key: "cs4Label", Value: "sectors"}, {Key: "cs4", Value: strings.Join(r.Sectors, ",")},
		{Key: "cs5Label", Value: "recommendedAction"}, {Key: "cs5", Value: t.action},
		{Key: "cs6Label", Value: "contact"}, {Key: "cs6", Value: t.contact},
		{Key: "cn1Label", Value: "exercise"}, {Key: "cn1", Value: boolDigit(r.Exercise)},
		{Key: "flexString1Label", Value: "patientSafetyImpact"}, {Key: "flexString1", Value: t.impact},
		{Key: "flexString2Label", Value: "amends"}, {Key: "flexString2", Value: r.Amends},
		{Key: "reason", Value: t.reason},
		{Key: "suser", Value: r.SenderName},
	}
	if r.Summary != nil {
		ext = append(ext, socfmt.Field{Key: "cnt", Value: strconv.FormatUint(uint64(r.Summary.Organisations), 10)})
	}
	if r.Affected != nil {
		ext = append(ext, socfmt.Field{Key: "cn2Label", Value: "affected"}, socfmt.Field{Key: "cn2", Value: strconv.Itoa(len(r.Affected))})
	}
	ext = append(ext, indicatorKeys(r)...)
	ext = append(ext, socfmt.Field{Key: "indicators", Value: t.indicators}, socfmt.Field{Key: "affectedAssets", Value: t.affected})
	return socfmt.CEF{Vendor: socVendor, Product: socProduct, Version: socVersion, ClassID: r.Kind, Name: t.title,
		Severity: severityOf(r).CEF, Extension: dropEmpty(ext)}
}

// leefOf is the LEEF 2.0 event of r: QRadar's own keys (sev, cat, devTime)
// and Tocsin's, tab-delimited.
func leefOf(r *Record, t *socText) socfmt.LEEF {
	at := r.Routed
	attrs := []socfmt.Field{
		{Key: "devTime", Value: formatLEEFTime(at)},
		{Key: "devTimeFormat", Value: "yyyy-MM-dd'T'HH:mm:ss.SSSZ"},
		{Key: "sev", Value: strconv.Itoa(max(1, severityOf(r).CEF))},
		{Key: "cat", Value: r.Kind},
		{Key: "id", Value: r.ID},
		{Key: "title", Value: t.title},
		{Key: "msg", Value: t.msg},
		{Key: "tlp", Value: r.TLP},
		{Key: "lane", Value: r.Lane},
		{Key: "severity", Value: severityOf(r).Name},
		{Key: "sender", Value: r.Sender},
		{Key: "senderName", Value: r.SenderName},
		{Key: "sectors", Value: strings.Join(r.Sectors, ",")},
		{Key: "exercise", Value: strconv.FormatBool(r.Exercise)},
		{Key: "recommendedAction", Value: t.action},
		{Key: "patientSafetyImpact", Value: t.impact},
		{Key: "contact", Value: t.contact},
		{Key: "amends", Value: r.Amends},
		{Key: "reason", Value: t.reason},
	}
	if r.Summary != nil {
		attrs = append(attrs, socfmt.Field{Key: "organisations", Value: strconv.FormatUint(uint64(r.Summary.Organisations), 10)})
	}
	if r.Affected != nil {
		attrs = append(attrs, socfmt.Field{Key: "affected", Value: strconv.Itoa(len(r.Affected))})
	}
	attrs = append(attrs, indicatorKeys(r)...)
	attrs = append(attrs, socfmt.Field{Key: "indicators", Value: t.indicators}, socfmt.Field{Key: "affectedAssets", Value: t.affected})
	return socfmt.LEEF{Vendor: socVendor, Product: socProduct, Version: socVersion, EventID: socfmt.Printable(r.Kind, 64),
		Attributes: dropEmpty(attrs)}
}

func formatLEEFTime(at time.Time) string {
	if at.IsZero() {
		return ""
	}
	return at.UTC().Format("2006-01-02T15:04:05.000-0700")
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func dropEmpty(fs []socfmt.Field) []socfmt.Field {
	out := fs[:0]
	for i, f := range fs {
		label := strings.HasSuffix(f.Key, "Label")
		if f.Value == "" || (label && i+1 < len(fs) && fs[i+1].Value == "") {
			continue // an empty value, or the label of one
		}
		out = append(out, f)
	}
	return out
}

// message is r as the RFC 5424 message this sink sends, with the CEF or
// LEEF event as its MSG, cut to fit the URL's max.
func (s *Syslog) message(r *Record) ([]byte, error) {
	t := newSOCText(r)
	at := r.Routed
	if at.IsZero() {
		at = time.Now()
	}
	m := socfmt.Message{Facility: s.target.facility, Severity: severityOf(r).Syslog, Time: at, Hostname: s.opts.Hostname,
		AppName: "tocsin", ProcID: strconv.Itoa(os.Getpid()), MsgID: socfmt.Printable(r.Kind, 32)}
	return socfmt.Fit(s.target.max, func() ([]byte, error) {
		var err error
		if s.target.format == "leef" {
			m.Msg, err = leefOf(r, &t).String()
		} else {
			m.Msg, err = cefOf(r, &t).String()
		}
		if err != nil {
			return nil, err
		}
		return m.Bytes()
	}, t.cuttable()...)
}
