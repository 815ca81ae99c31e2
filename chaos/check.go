package chaos

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// CheckInput is everything the checker judges: what was published and
// acknowledged, what each sink holds, the phases, and the router's outcome
// of each acknowledged alert.
type CheckInput struct {
	// Published is every alert publishers tried, from their logs.
	Published []*Published
	// Agents are the agents, and Sinks what each one's sink holds (by
	// member).
	Agents []AgentSpec
	Sinks  map[string][]SinkLine
	// Phases are the run's phases in order.
	Phases []*Phase
	// Outcomes are the ROUTED states of acknowledged alerts by id
	// ("routed"); an id without one has no outcome.
	Outcomes map[string]string
	// Ignore are senders whose sink lines another check judges (the
	// bad-input sender's).
	Ignore []string
	// SlowAfter is the delivery time (PubAck to sink line) past which a
	// delivery counts as slow; 0: none does.
	SlowAfter time.Duration
}

// Finding is one alert that went wrong.
type Finding struct {
	ID        string `json:"id"`
	Publisher string `json:"publisher,omitempty"`
	N         int    `json:"n,omitempty"`
	Agent     string `json:"agent,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// Row is one line of the summary table: one fault (all its injections),
// the baseline, or the total.
type Row struct {
	Fault      string `json:"fault"`
	Injections int    `json:"injections"`
	// Operations are the alerts first published during the fault's phases.
	Operations int `json:"operations"`
	// Acknowledged are those that got a PubAck.
	Acknowledged int `json:"acknowledged"`
	// Expected are the deliveries the acknowledged alerts owe (one per
	// agent that should write each); Delivered those that happened.
	Expected  int `json:"expected_deliveries"`
	Delivered int `json:"delivered"`
	// Lost are expected deliveries that never happened.
	Lost int `json:"lost"`
	// Duplicates are lines of a sink that repeat an id it already holds.
	Duplicates int `json:"duplicates"`
	// Unexpected are deliveries of ids never published, or to an agent
	// that should not have them, or with the wrong TLP or lane.
	Unexpected int `json:"unexpected"`
	// NotRouted are acknowledged alerts whose outcome is not "routed".
	NotRouted int `json:"not_routed"`
	// RecoverySeconds is the slowest recovery after a heal; -1 when one
	// did not recover in time.
	RecoverySeconds float64 `json:"recovery_seconds"`
	// DeliveryP99Seconds and DeliveryMaxSeconds are the time from an
	// alert's PubAck to its line in a sink (the agent's received time).
	DeliveryP99Seconds float64 `json:"delivery_p99_seconds"`
	DeliveryMaxSeconds float64 `json:"delivery_max_seconds"`
}

// PathRow counts the deliveries of one path an alert travels: published
// at the hub or at a site, read by an agent of the hub or of a site.
type PathRow struct {
	// Path is "hub → hub agent", "hub → site agent", "site → hub agent"
	// or "site → site agent".
	Path       string `json:"path"`
	Expected   int    `json:"expected_deliveries"`
	Delivered  int    `json:"delivered"`
	Lost       int    `json:"lost"`
	Duplicates int    `json:"duplicates"`
}

// pathOf names the path of p to agent a.
func pathOf(p *Published, a AgentSpec) string {
	from, to := "hub", "hub agent"
	if p.Via == viaSite {
		from = "site"
	}
	if a.Site {
		to = "site agent"
	}
	return from + " → " + to
}

// maxFindings bounds each list of findings in a report (the counts are
// complete).
const maxFindings = 50

// CheckResult is what Check finds.
type CheckResult struct {
	Table      []Row     `json:"table"`
	Total      Row       `json:"total"`
	Lost       []Finding `json:"lost,omitempty"`
	Gaps       []Finding `json:"gaps,omitempty"`
	Duplicates []Finding `json:"duplicates,omitempty"`
	Unexpected []Finding `json:"unexpected,omitempty"`
	NotRouted  []Finding `json:"not_routed,omitempty"`
	// GapCount counts lost deliveries followed, in the same sink, by a
	// later alert of the same publisher: losses in the middle of its order.
	GapCount int `json:"gap_count"`
	// DeliveredUnacked counts deliveries of alerts whose publisher never
	// got a PubAck (allowed: the write may have landed).
	DeliveredUnacked int `json:"delivered_unacknowledged"`
	// Slow are deliveries that took longer than CheckInput.SlowAfter.
	Slow      []Finding `json:"slow,omitempty"`
	SlowCount int       `json:"slow_count"`
	// Slowest is the slowest delivery of all (slow or not); nil when none.
	Slowest *Finding `json:"slowest,omitempty"`
	slowest time.Duration
	// Paths are the deliveries by path, in the order of Path's doc.
	Paths []PathRow `json:"paths"`
}

// Check compares what was acknowledged with what was delivered.
func Check(in CheckInput) *CheckResult {
	res := &CheckResult{}
	rows := map[string]*Row{}
	var order []string
	row := func(fault string) *Row {
		if rows[fault] == nil {
			rows[fault] = &Row{Fault: fault}
			order = append(order, fault)
		}
		return rows[fault]
	}
	for _, ph := range in.Phases {
		r := row(ph.Fault)
		r.Injections++
		if ph.RecoverySeconds < 0 || r.RecoverySeconds < 0 {
			r.RecoverySeconds = -1
		} else {
			r.RecoverySeconds = max(r.RecoverySeconds, ph.RecoverySeconds)
		}
	}
	phaseOf := func(t time.Time) string {
		name := "none"
		for _, ph := range in.Phases {
			if !t.Before(ph.Start) {
				name = ph.Fault
			}
		}
		return name
	}
	// delays are the seconds from PubAck to sink line, by row.
	delays := map[string][]float64{}
	byID := map[string]*Published{}
	for _, p := range in.Published {
		byID[p.ID] = p
	}
	// held[agent][id] counts the sink's lines of id.
	held := map[string]map[string]int{}
	paths := map[string]*PathRow{}
	path := func(p *Published, a AgentSpec) *PathRow {
		k := pathOf(p, a)
		if paths[k] == nil {
			paths[k] = &PathRow{Path: k}
		}
		return paths[k]
	}
	for _, a := range in.Agents {
		held[a.Member] = map[string]int{}
		for _, l := range in.Sinks[a.Member] {
			held[a.Member][l.ID]++
			p := byID[l.ID]
			if p == nil {
				if !slices.Contains(in.Ignore, l.Sender) {
					res.unexpected(row("none"), Finding{ID: l.ID, Agent: a.Member, Detail: fmt.Sprintf("%s from %s was never published", l.Kind, l.Sender)})
				}
				continue
			}
			r := row(phaseOf(p.Attempted))
			f := Finding{ID: l.ID, Publisher: p.Publisher, N: p.N, Agent: a.Member, Phase: r.Fault}
			if held[a.Member][l.ID] == 2 {
				r.Duplicates++
				path(p, a).Duplicates++
				f.Detail = "written twice"
				res.Duplicates = appendCapped(res.Duplicates, f)
			}
			if held[a.Member][l.ID] > 1 {
				continue
			}
			if p.Acked.IsZero() {
				res.DeliveredUnacked++
			} else if !l.Received.IsZero() {
				d := l.Received.Sub(p.Acked)
				delays[r.Fault] = append(delays[r.Fault], d.Seconds())
				f.Detail = fmt.Sprintf("written %s after its PubAck (routed after %s; agent delivery %d)",
					d.Round(100*time.Millisecond), l.Routed.Sub(p.Acked).Round(100*time.Millisecond), l.Delivery)
				if d > res.slowest {
					slowest := f
					res.slowest, res.Slowest = d, &slowest
				}
				if in.SlowAfter > 0 && d > in.SlowAfter {
					res.SlowCount++
					res.Slow = appendCapped(res.Slow, f)
				}
			}
			switch {
			case !a.Receives(p.Spec):
				f.Detail = fmt.Sprintf("%s %s alert to %v%v reached an agent of %v (lanes %v)", p.Spec.TLP, p.Spec.Lane, p.Spec.Sectors, p.Spec.Recipients, a.Sectors, a.Lanes)
				res.unexpected(r, f)
			case l.TLP != p.Spec.TLP || l.Lane != p.Spec.Lane || !l.Verified || l.Sender != p.Publisher:
				f.Detail = fmt.Sprintf("written as %s/%s from %s verified=%v, published as %s/%s", l.TLP, l.Lane, l.Sender, l.Verified, p.Spec.TLP, p.Spec.Lane)
				res.unexpected(r, f)
			}
		}
	}
	for _, p := range in.Published {
		r := row(phaseOf(p.Attempted))
		r.Operations++
		if p.Acked.IsZero() {
			continue
		}
		r.Acknowledged++
		if st := in.Outcomes[p.ID]; st != "routed" {
			r.NotRouted++
			if st == "" {
				st = "no outcome"
			}
			res.NotRouted = appendCapped(res.NotRouted, Finding{ID: p.ID, Publisher: p.Publisher, N: p.N, Phase: r.Fault, Detail: st})
		}
		for _, a := range in.Agents {
			if !a.Receives(p.Spec) {
				continue
			}
			r.Expected++
			pr := path(p, a)
			pr.Expected++
			if held[a.Member][p.ID] > 0 {
				r.Delivered++
				pr.Delivered++
				continue
			}
			r.Lost++
			pr.Lost++
			res.Lost = appendCapped(res.Lost, Finding{ID: p.ID, Publisher: p.Publisher, N: p.N, Agent: a.Member, Phase: r.Fault,
				Detail: fmt.Sprintf("acknowledged at %s (INGEST seq %d), never written", p.Acked.Format(time.RFC3339Nano), p.Seq)})
		}
	}
	res.gaps(in, held)
	for _, from := range []string{"hub", "site"} {
		for _, to := range []string{"hub agent", "site agent"} {
			if pr := paths[from+" → "+to]; pr != nil {
				res.Paths = append(res.Paths, *pr)
			}
		}
	}
	res.Total = Row{Fault: "total"}
	for _, name := range order {
		r := rows[name]
		r.DeliveryP99Seconds, r.DeliveryMaxSeconds = percentile(delays[name], 0.99), percentile(delays[name], 1)
		delays["total"] = append(delays["total"], delays[name]...)
		res.Table = append(res.Table, *r)
		t := &res.Total
		t.Injections += r.Injections
		t.Operations += r.Operations
		t.Acknowledged += r.Acknowledged
		t.Expected += r.Expected
		t.Delivered += r.Delivered
		t.Lost += r.Lost
		t.Duplicates += r.Duplicates
		t.Unexpected += r.Unexpected
		t.NotRouted += r.NotRouted
		if r.RecoverySeconds < 0 || t.RecoverySeconds < 0 {
			t.RecoverySeconds = -1
		} else {
			t.RecoverySeconds = max(t.RecoverySeconds, r.RecoverySeconds)
		}
	}
	res.Total.DeliveryP99Seconds, res.Total.DeliveryMaxSeconds = percentile(delays["total"], 0.99), percentile(delays["total"], 1)
	return res
}

// percentile is the q-quantile (0 to 1) of xs, 0 for none.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (res *CheckResult) unexpected(r *Row, f Finding) {
	r.Unexpected++
	res.Unexpected = appendCapped(res.Unexpected, f)
}

// gaps finds, per agent and publisher, acknowledged alerts the agent
// should hold and does not, with a later alert of that publisher held.
func (res *CheckResult) gaps(in CheckInput, held map[string]map[string]int) {
	type key struct{ agent, publisher string }
	owed := map[key][]*Published{}
	for _, p := range in.Published {
		if p.Acked.IsZero() {
			continue
		}
		for _, a := range in.Agents {
			if a.Receives(p.Spec) {
				k := key{a.Member, p.Publisher}
				owed[k] = append(owed[k], p)
			}
		}
	}
	keys := make([]key, 0, len(owed))
	for k := range owed {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].agent < keys[j].agent || keys[i].agent == keys[j].agent && keys[i].publisher < keys[j].publisher
	})
	for _, k := range keys {
		ps := owed[k]
		sort.Slice(ps, func(i, j int) bool { return ps[i].N < ps[j].N })
		last := -1
		for i, p := range ps {
			if held[k.agent][p.ID] > 0 {
				last = i
			}
		}
		for i := 0; i < last; i++ {
			if held[k.agent][ps[i].ID] == 0 {
				res.GapCount++
				res.Gaps = appendCapped(res.Gaps, Finding{ID: ps[i].ID, Publisher: k.publisher, N: ps[i].N, Agent: k.agent,
					Detail: fmt.Sprintf("missing while #%d of the same publisher was written", ps[last].N)})
			}
		}
	}
}

func appendCapped(fs []Finding, f Finding) []Finding {
	if len(fs) >= maxFindings {
		return fs
	}
	return append(fs, f)
}
