package alerts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// seenSummary is a sighting summary as a member reads it, with the
// envelope id and the Nats-Msg-Id of its copy.
type seenSummary struct {
	sum       *tocsinv1.SightingSummary
	env, copy string
}

// summariesFor returns the summaries of alert id that member reads: on
// the info lanes of its sectors and in its inbox.
func (h *harness) summariesFor(member, id string) []seenSummary {
	h.t.Helper()
	m, err := h.reg.Member(context.Background(), member)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []seenSummary
	read := func(stream, filter string) {
		envs, ids := h.messages(stream, filter)
		for i, e := range envs {
			var s tocsinv1.SightingSummary
			if e.GetKind() == tocsinv1.Kind_KIND_SIGHTING_SUMMARY && proto.Unmarshal(e.GetPayload(), &s) == nil && s.GetAlertId() == id {
				out = append(out, seenSummary{&s, e.GetId(), ids[i]})
			}
		}
	}
	for _, s := range m.GetSectors() {
		read(subjects.StreamSectors, subjects.Sector(s, "info"))
	}
	read(subjects.StreamInbox, subjects.Inbox(member))
	return out
}

// sightingCount is the exact count the router keeps (never sent below the
// floor).
func (h *harness) sightingCount(indicator, sector string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, _ := SightingCount(ctx, h.js, indicator, sector)
	return n
}

func (h *harness) sight(member, indicator string, named bool) {
	h.publish(member, subjects.KindSighting, tocsinv1.Kind_KIND_SIGHTING, &tocsinv1.Sighting{IndicatorId: indicator, Count: 1, Named: named})
}

// TestSightingSummaries: the originator reads each summary once; a summary
// names the indicator it counts (the first alert's, also when a
// re-publisher is counted), its pattern and the alert's TLP; and no member
// is told a count of one or two.
func TestSightingSummaries(t *testing.T) {
	h := newHarness(t, 1, Options{})
	b := bundle("198.51.100.21", tlp.Amber)
	first := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(b, tlp.Amber, tocsinv1.Lane_LANE_URGENT, []string{"patient-care", "health-it"}, nil))
	if o := h.outcome("st-mary", first.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("first: %v", o)
	}
	// Lakeside re-publishes the address in a bundle of its own (another
	// indicator id): it counts as a sighting in patient-care.
	again := bundle("198.51.100.21", tlp.Amber)
	dup := h.publish("lakeside-childrens", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
		alertOf(again, tlp.Amber, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("lakeside-childrens", dup.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE {
		t.Fatalf("the re-publish: %v", o)
	}
	h.sight("riverside", indicatorID(t, again), false)
	h.sight("valley-general", indicatorID(t, b), false)
	for _, m := range []string{"ehr-vendor", "ir-firm", "downtime-staffing"} {
		h.sight(m, indicatorID(t, b), false)
	}
	final := func(s []seenSummary, sector string) bool {
		return slices.ContainsFunc(s, func(x seenSummary) bool { return x.sum.GetSector() == sector && x.sum.GetOrganisations() == 3 })
	}
	var mary []seenSummary
	waitFor(t, func() bool {
		mary = h.summariesFor("st-mary", first.GetId())
		return final(mary, "patient-care") && final(mary, "health-it")
	}, "st-mary to be told: seen at 3 other organisations in patient-care and in health-it")

	t.Run("the originator gets each summary once", func(t *testing.T) {
		h.t = t
		// fewer than 3, then 3, in each sector: four summaries, each once.
		seen := map[string]int{}
		for _, s := range mary {
			seen[fmt.Sprintf("%s %d", s.sum.GetSector(), s.sum.GetOrganisations())]++
			seen[s.env]++
		}
		if len(mary) != 4 {
			t.Errorf("st-mary reads %d summaries, want 4 (patient-care and health-it: fewer than 3, then 3)", len(mary))
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("st-mary reads %q %d times, want once", k, n)
			}
		}
		// Its sector tells st-mary of patient-care; its inbox of health-it,
		// a sector it is not in.
		for _, s := range mary {
			inbox := strings.Contains(s.copy, ":inbox.") || strings.HasSuffix(s.copy, ".originator")
			if inbox != (s.sum.GetSector() == "health-it") {
				t.Errorf("summary of %s arrived as %s", s.sum.GetSector(), s.copy)
			}
		}
	})

	t.Run("a summary names the indicator it counts, its pattern and TLP", func(t *testing.T) {
		h.t = t
		for _, s := range append(mary, h.summariesFor("riverside", first.GetId())...) {
			if s.sum.GetIndicatorId() != indicatorID(t, b) || s.sum.GetPattern() != "[ipv4-addr:value = '198.51.100.21']" || s.sum.GetTlp() != tocsinv1.TLP_TLP_AMBER {
				t.Errorf("summary %v: want indicator %s (the first alert's), its pattern, TLP amber", s.sum, indicatorID(t, b))
			}
		}
	})

	t.Run("counts below the floor are not disclosed", func(t *testing.T) {
		h.t = t
		c := bundle("198.51.100.22", tlp.Green)
		alert := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
			alertOf(c, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
		h.outcome("st-mary", alert.GetId())
		h.sight("riverside", indicatorID(t, c), true)
		h.sight("valley-general", indicatorID(t, c), true)
		waitFor(t, func() bool { return h.sightingCount(indicatorID(t, c), "patient-care") == 2 }, "two sightings counted")
		for _, who := range []string{"st-mary", "hilltop"} {
			got := h.summariesFor(who, alert.GetId())
			if len(got) != 1 || got[0].sum.GetOrganisations() != 0 || len(got[0].sum.GetNamed()) != 0 || strings.ContainsAny(got[0].copy[strings.Index(got[0].copy, ":"):], "12") {
				t.Fatalf("%s, two organisations counted, reads %v: want one summary, organisations 0 (fewer than %d), no names, no count in its id", who, got, records.SightingFloor)
			}
		}
		h.sight("hilltop", indicatorID(t, c), false)
		waitFor(t, func() bool {
			got := h.summariesFor("lakeside-childrens", alert.GetId())
			return len(got) == 2 && got[1].sum.GetOrganisations() == 3 && slices.Equal(got[1].sum.GetNamed(), []string{"riverside", "valley-general"})
		}, "the sector told: 3 organisations, riverside and valley-general named")
	})
}
