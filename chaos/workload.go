package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/internal/ids"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// Spec is how one alert is addressed: all the checker needs to know which
// agents must receive it.
type Spec struct {
	// TLP is the alert's TLP ("green"); its STIX objects carry the same
	// marking, so it is also the effective TLP.
	TLP string `json:"tlp"`
	// Lane is the urgency lane ("urgent").
	Lane string `json:"lane"`
	// Sectors are the sectors addressed (none for red).
	Sectors []string `json:"sectors,omitempty"`
	// Recipients are the members addressed directly (red only).
	Recipients []string `json:"recipients,omitempty"`
}

// AgentSpec is one member agent: who it is and what it takes.
type AgentSpec struct {
	// Member is the agent's member id.
	Member string `json:"member"`
	// Sectors are the member's sectors, all of which the agent reads.
	Sectors []string `json:"sectors"`
	// Lanes are the lanes the agent writes to its sink (none: all).
	Lanes []string `json:"lanes,omitempty"`
	// Site is set when the agent connects to its member's site, not the
	// hub.
	Site bool `json:"site,omitempty"`
}

// Receives reports whether an agent should write an alert of spec s.
func (a AgentSpec) Receives(s Spec) bool {
	if len(a.Lanes) > 0 && !slices.Contains(a.Lanes, s.Lane) {
		return false
	}
	if slices.Contains(s.Recipients, a.Member) {
		return true
	}
	if s.TLP == "red" || s.TLP == "amber+strict" {
		return false
	}
	for _, sec := range s.Sectors {
		if slices.Contains(a.Sectors, sec) {
			return true
		}
	}
	return false
}

// agentCast is the agents of a run of n: members of one or two sectors,
// one that filters out the info lane, one in a sector few alerts go to.
func agentCast(n int) []AgentSpec {
	base := []AgentSpec{
		{Member: "agt-1", Sectors: []string{"patient-care"}},
		{Member: "agt-2", Sectors: []string{"patient-care", "health-it"}},
		{Member: "agt-3", Sectors: []string{"health-it"}, Lanes: []string{"urgent", "routine"}},
		{Member: "agt-4", Sectors: []string{"pharma"}},
	}
	var out []AgentSpec
	for i := range n {
		a := base[i%len(base)]
		a.Member = fmt.Sprintf("agt-%d", i+1)
		out = append(out, a)
	}
	return out
}

// pickSpec draws an alert's addressing: mostly green and amber to one or
// two sectors, some to a sector only one agent reads, some red to one
// agent's inbox; lanes urgent, routine and info (flash is capped per
// publisher, so it is not drawn).
func pickSpec(r *rand.Rand, agents []AgentSpec) Spec {
	lanes := []string{"urgent", "urgent", "routine", "info"}
	s := Spec{Lane: lanes[r.IntN(len(lanes))]}
	switch x := r.IntN(100); {
	case x < 50:
		s.TLP, s.Sectors = "green", []string{"patient-care"}
	case x < 70:
		s.TLP, s.Sectors = "amber", []string{"health-it"}
	case x < 80:
		s.TLP, s.Sectors = "amber", []string{"patient-care", "health-it"}
	case x < 90:
		s.TLP, s.Sectors = "green", []string{"pharma"}
	default:
		s.TLP, s.Lane = "red", "urgent"
		s.Recipients = []string{agents[r.IntN(len(agents))].Member}
	}
	return s
}

// buildAlert is an alert of spec s whose single indicator is unique to
// (run, publisher, n), so the router's dedupe never merges two of them.
func buildAlert(s Spec, run, publisher string, n int) (*tocsinv1.Alert, error) {
	level, err := tlp.Parse(s.TLP)
	if err != nil {
		return nil, err
	}
	lane, ok := tocsinv1.Lane_value["LANE_"+strings.ToUpper(s.Lane)]
	if !ok {
		return nil, fmt.Errorf("lane %q", s.Lane)
	}
	domain := fmt.Sprintf("n%d.%s.%s.chaos.example", n, publisher, run)
	return &tocsinv1.Alert{
		Title:      fmt.Sprintf("chaos %s #%d", publisher, n),
		Lane:       tocsinv1.Lane(lane),
		Sectors:    s.Sectors,
		Recipients: s.Recipients,
		Tlp:        level.Proto(),
		StixBundle: indicatorBundle(domain, level),
		Exercise:   true,
	}, nil
}

// indicatorBundle is a STIX 2.1 bundle of one indicator of domain, marked
// with level.
func indicatorBundle(domain string, level tlp.Level) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	ind := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--" + ids.V4(), "created": now, "modified": now,
		"name": "C2 domain " + domain, "pattern": fmt.Sprintf("[domain-name:value = '%s']", domain), "pattern_type": "stix",
		"valid_from": now, "indicator_types": []string{"malicious-activity"}, "object_marking_refs": []string{tlp.MarkingID(level)},
	}
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": []any{ind}})
	return data
}
