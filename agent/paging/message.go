package paging

import (
	"fmt"
	"strings"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/tlp"
)

// Message is what the pager knows of one verified message: the agent's
// record, reduced to what a page may say.
type Message struct {
	// ID is the envelope id: the page's id and PagerDuty's dedup key.
	ID string `json:"id"`
	// Kind is the record's kind ("alert", "advisory", "csaf-advisory").
	Kind string `json:"kind"`
	// Sender and SenderName say who sent it.
	Sender     string `json:"sender"`
	SenderName string `json:"sender_name,omitempty"`
	// TLP is the effective TLP ("amber+strict").
	TLP string `json:"tlp"`
	// Lane is the lane ("flash").
	Lane string `json:"lane"`
	// Exercise marks a drill.
	Exercise bool `json:"exercise,omitempty"`
	// Title, Body and Action are the words for the person on call.
	Title  string `json:"title,omitempty"`
	Body   string `json:"body,omitempty"`
	Action string `json:"action,omitempty"`
	// Indicators are the indicators' values or patterns, for the page's
	// details.
	Indicators []string `json:"indicators,omitempty"`
	// Affected is how many of the member's own assets matched (CSAF): a
	// CSAF advisory pages only when it is above 0, and then one lane more
	// urgent than it was sent (Severity).
	Affected int `json:"affected,omitempty"`
	// Link is the message's page in the console, if known.
	Link string `json:"link,omitempty"`
	// Routed is when the cluster routed it.
	Routed time.Time `json:"routed"`
	// Region is the region whose router routed the copy paged, in a
	// supercluster of stream sets (its subject's, tocsin.r.<region>.…;
	// docs/REGIONS.md); "" on a single cluster. An acknowledgement made
	// at a channel names it (the receipt's ref_region), so that it is
	// filed in that region's REACH.
	Region string `json:"region,omitempty"`
}

// Severity is the message's severity: records.SeverityOf its lane, or of
// the lane one step more urgent (records.Raised) when it matched the
// member's own assets.
func (m Message) Severity() records.Severity {
	l := laneOf(m.Lane)
	if m.Affected > 0 {
		l = records.Raised(l)
	}
	return records.SeverityOf(l)
}

func laneOf(name string) tocsinv1.Lane {
	return tocsinv1.Lane(tocsinv1.Lane_value["LANE_"+strings.ToUpper(name)])
}

// restricted reports whether m's TLP keeps its words out of pages: RED
// and AMBER+STRICT (and any TLP this code cannot read).
func (m Message) restricted() bool {
	l, err := tlp.Parse(m.TLP)
	return err != nil || l == tlp.Red || l == tlp.AmberStrict
}

// Text is what a page says of m: its summary line and details. A
// restricted message says only who sent what and where to read it, unless
// body is true.
func (m Message) Text(body bool) (summary string, details map[string]string) {
	from := m.SenderName
	if from == "" {
		from = m.Sender
	}
	prefix := ""
	if m.Exercise {
		prefix = "EXERCISE: "
	}
	label := "TLP:" + strings.ToUpper(m.TLP)
	details = map[string]string{"id": m.ID, "sender": m.Sender, "tlp": label, "lane": m.Lane, "kind": m.Kind}
	if m.Exercise {
		details["exercise"] = "true"
	}
	if m.Link != "" {
		details["console"] = m.Link
	}
	mine := ""
	if m.Affected > 0 {
		details["affected"] = fmt.Sprint(m.Affected)
		mine = fmt.Sprintf("; it matches %d of your own assets", m.Affected)
	}
	if m.restricted() && !body {
		return fmt.Sprintf("%s%s %s %s from %s: open the console%s", prefix, label, m.Lane, m.Kind, from, mine), details
	}
	title := m.Title
	if title == "" {
		title = m.Kind
	}
	summary = fmt.Sprintf("%s[%s %s] %s (from %s)%s", prefix, strings.ToUpper(m.Lane), label, title, from, mine)
	if m.Action != "" {
		details["action"] = m.Action
	}
	if m.Body != "" {
		details["body"] = m.Body
	}
	if len(m.Indicators) > 0 {
		details["indicators"] = strings.Join(m.Indicators, "\n")
	}
	return summary, details
}
