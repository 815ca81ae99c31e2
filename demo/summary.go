package demo

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is what the demo played and what the cluster holds afterwards
// (tocsin demo --json prints it).
type Summary struct {
	// Passed is true when every step's outcome was what the story says.
	Passed bool `json:"passed"`
	// Seconds is how long the run took, the cluster's start included.
	Seconds float64 `json:"seconds"`
	// Console is the console's URL; Data the data directory.
	Console string `json:"console"`
	Data    string `json:"data"`
	// Steps are the steps played, in order.
	Steps []*Step `json:"steps"`
	// Messages counts what members sent, by kind, from the INGEST stream.
	Messages map[string]uint64 `json:"messages"`
	// Receipts are, for each message that asked for them, how many of the
	// organisations it reached sent each receipt (the REACH bucket).
	Receipts []Receipts `json:"receipts"`
	// Reach is the advisory's reach per sector at the end.
	Reach []SectorReach `json:"reach"`
	// Aid is the mutual-aid request's signed timeline.
	Aid []AidStep `json:"aid"`
	// Sightings are the sighting counts of the C2 indicator per sector.
	Sightings []Sighting `json:"sightings"`
	// Faults are the things that went wrong on purpose, and how each ended.
	Faults []Fault `json:"faults"`
	// Deliveries compares every agent's JSONL feed with what the cluster
	// routed to it.
	Deliveries Deliveries `json:"deliveries"`
}

// Step is one step as played.
type Step struct {
	At       string   `json:"at"`
	What     string   `json:"what"`
	Commands []string `json:"commands"`
	Outcome  string   `json:"outcome,omitempty"`
	Error    string   `json:"error,omitempty"`
	Millis   int64    `json:"millis"`
}

// Receipts counts one message's receipts.
type Receipts struct {
	Message       string `json:"message"`
	ID            string `json:"id"`
	Organisations int    `json:"organisations"`
	Delivered     int    `json:"delivered"`
	Acknowledged  int    `json:"acknowledged"`
	Actioned      int    `json:"actioned"`
}

// SectorReach is the advisory's receipts in one sector.
type SectorReach struct {
	Sector            string   `json:"sector"`
	Organisations     int      `json:"organisations"`
	Delivered         int      `json:"delivered"`
	Acknowledged      int      `json:"acknowledged"`
	Actioned          int      `json:"actioned"`
	NeverAcknowledged []string `json:"never_acknowledged"`
}

// AidStep is one signed step of the aid request.
type AidStep struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	By     string    `json:"by"`
	State  string    `json:"state"`
}

// Sighting is how many organisations of a sector, other than the
// originator, saw an indicator.
type Sighting struct {
	Indicator     string `json:"indicator"`
	Sector        string `json:"sector"`
	Organisations int    `json:"organisations"`
}

// Fault is something that went wrong on purpose.
type Fault struct {
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
}

// Deliveries is the final count over every agent.
type Deliveries struct {
	Agents  int `json:"agents"`
	Routed  int `json:"routed"`
	Written int `json:"written"`
	Missing int `json:"missing"`
	Twice   int `json:"twice"`
}

// print writes the summary table.
func (s *Summary) print(out io.Writer) {
	verdict := "every step went as the story says"
	if !s.Passed {
		verdict = "FAILED: a step's outcome was not what the story says (see above)"
	}
	fmt.Fprintf(out, "\nThe night in numbers: %s, in %.1f s\n\n", verdict, s.Seconds)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(label, text string) { fmt.Fprintf(tw, "  %s\t%s\n", label, text) }
	if len(s.Messages) > 0 {
		kinds := make([]string, 0, len(s.Messages))
		for k := range s.Messages {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", k, s.Messages[k])
		}
		row("messages sent", strings.Join(parts, ", "))
	}
	for i, r := range s.Receipts {
		label := ""
		if i == 0 {
			label = "receipts"
		}
		row(label, fmt.Sprintf("%-16s %d of %d delivered, %d acknowledged, %d actioned", r.Message, r.Delivered, r.Organisations, r.Acknowledged, r.Actioned))
	}
	for i, r := range s.Reach {
		label := ""
		if i == 0 {
			label = "advisory reach"
		}
		row(label, fmt.Sprintf("%-14s %d of %d delivered, %d acknowledged, %d actioned; never acknowledged: %s",
			r.Sector, r.Delivered, r.Organisations, r.Acknowledged, r.Actioned, list(r.NeverAcknowledged)))
	}
	for i, a := range s.Aid {
		label := ""
		if i == 0 {
			label = "aid request"
		}
		row(label, fmt.Sprintf("+%-7s %-10s by %-17s -> %s", span(a.At.Sub(s.Aid[0].At)), a.Action, a.By, a.State))
	}
	for i, si := range s.Sightings {
		label := ""
		if i == 0 {
			label = "sightings"
		}
		row(label, fmt.Sprintf("%s: seen at %d other %s organisations", si.Indicator, si.Organisations, si.Sector))
	}
	for i, f := range s.Faults {
		label := ""
		if i == 0 {
			label = "faults survived"
		}
		row(label, f.Name+": "+f.Outcome)
	}
	if d := s.Deliveries; d.Agents > 0 {
		lost := "nothing lost"
		if d.Missing > 0 || d.Twice > 0 {
			lost = "LOST OR DOUBLED"
		}
		row("deliveries", fmt.Sprintf("%s: %d agents, %d messages routed to them, %d in their JSONL feeds, %d missing, %d twice",
			lost, d.Agents, d.Routed, d.Written, d.Missing, d.Twice))
	}
	_ = tw.Flush()
}
