package taxii_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// routed is one message of the TLP matrix and who may read its objects,
// worked out from DESIGN.md's table, not from the code under test.
type routed struct {
	name    string
	sender  string
	kind    tocsinv1.Kind
	level   tlp.Level
	sectors []string // named sectors
	to      []string // named recipients
	objects []string // ids
}

// readers are the members who may read the objects of m: members of the
// named sectors (every sector for CLEAR and GREEN when none is named) for
// CLEAR, GREEN and AMBER, and the named recipients, whatever the level.
func (m routed) readers(cast []*tocsinv1.Member) map[string]bool {
	out := map[string]bool{}
	for _, id := range m.to {
		out[id] = true
	}
	if m.level > tlp.Amber {
		return out
	}
	for _, c := range cast {
		for _, s := range c.GetSectors() {
			if len(m.sectors) == 0 || slices.Contains(m.sectors, s) {
				out[c.GetId()] = true
			}
		}
	}
	return out
}

func TestTLPMatrix(t *testing.T) {
	e := webtest.Start(t, webtest.Options{})
	ctx := context.Background()
	var cast []*tocsinv1.Member
	for id := range e.Tokens {
		m, err := e.Registry.Member(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		cast = append(cast, m)
	}
	msgs := []routed{
		{name: "clear to all", sender: "st-mary", kind: tocsinv1.Kind_KIND_ALERT, level: tlp.Clear},
		{name: "green to patient-care", sender: "st-mary", kind: tocsinv1.Kind_KIND_ALERT, level: tlp.Green, sectors: []string{"patient-care"}},
		{name: "amber to patient-care and acme", sender: "st-mary", kind: tocsinv1.Kind_KIND_ALERT, level: tlp.Amber, sectors: []string{"patient-care"}, to: []string{"acme-pharma", "riverside"}},
		{name: "amber to health-it", sender: "ehr-vendor", kind: tocsinv1.Kind_KIND_ALERT, level: tlp.Amber, sectors: []string{"health-it"}},
		{name: "amber+strict", sender: "st-mary", kind: tocsinv1.Kind_KIND_ALERT, level: tlp.AmberStrict, sectors: []string{"patient-care"}, to: []string{"ir-firm", "hilltop"}},
		{name: "red", sender: "st-mary", kind: tocsinv1.Kind_KIND_ALERT, level: tlp.Red, to: []string{"riverside", "downtime-staffing"}},
		{name: "red from a responder", sender: "ir-firm", kind: tocsinv1.Kind_KIND_ALERT, level: tlp.Red, to: []string{"st-mary"}},
		{name: "advisory green to pharma", sender: "hhs-liaison", kind: tocsinv1.Kind_KIND_ADVISORY, level: tlp.Green, sectors: []string{"pharma"}},
		{name: "advisory amber to all named", sender: "hhs-liaison", kind: tocsinv1.Kind_KIND_ADVISORY, level: tlp.Amber, sectors: []string{"patient-care", "federal"}},
	}
	may := map[string]map[string]bool{} // member → object ids it may read
	var every []string
	for i := range msgs {
		m := &msgs[i]
		// Two objects per message, both at the message's level, and one
		// more at CLEAR in the AMBER ones (its effective level stays AMBER).
		objs := []map[string]any{webtest.Indicator(webtest.IP(2*i), m.level), webtest.Indicator(webtest.IP(2*i+1), m.level)}
		if m.level == tlp.Amber {
			objs = append(objs, webtest.Indicator(webtest.IP(100+i), tlp.Clear))
		}
		for _, o := range objs {
			m.objects = append(m.objects, o["id"].(string))
		}
		if m.kind == tocsinv1.Kind_KIND_ALERT {
			e.Route(m.sender, m.kind, &tocsinv1.Alert{Title: m.name, Lane: tocsinv1.Lane_LANE_URGENT, Sectors: m.sectors, Recipients: m.to,
				Tlp: m.level.Proto(), StixBundle: webtest.Bundle(objs...)})
		} else {
			e.Route(m.sender, m.kind, &tocsinv1.Advisory{Title: m.name, Lane: tocsinv1.Lane_LANE_URGENT, Sectors: m.sectors,
				Tlp: m.level.Proto(), StixBundle: webtest.Bundle(objs...)})
		}
		for id := range m.readers(cast) {
			if may[id] == nil {
				may[id] = map[string]bool{}
			}
			for _, o := range m.objects {
				may[id][o] = true
			}
		}
		every = append(every, m.objects...)
	}
	// Every collection id of every member: a member asking for another's
	// collection must learn nothing.
	var allCollections []string
	for _, c := range cast {
		var res struct{ Collections []collectionJSON }
		getJSON(t, e, c.GetId(), "/taxii2/tocsin/collections/", http.StatusOK, &res)
		for _, cl := range res.Collections {
			allCollections = append(allCollections, cl.ID)
		}
	}
	slices.Sort(allCollections)
	allCollections = slices.Compact(allCollections)

	forms := 0
	for _, c := range cast {
		member := c.GetId()
		t.Run(member, func(t *testing.T) {
			read := map[string]bool{}
			check := func(form string, got []stixObj) {
				t.Helper()
				forms++
				for _, o := range got {
					if !may[member][o.ID] {
						t.Errorf("%s: %s reads %s, which it may not", form, member, o.ID)
					}
					read[o.ID] = true
				}
			}
			for _, cid := range allCollections {
				var env envelopeJSON
				resp, body := e.Do(member, http.MethodGet, coll(cid, "objects", "match[version]", "all"), nil, accept)
				if resp.StatusCode == http.StatusNotFound {
					continue // not one of its collections
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("objects of %s: %d %s", cid, resp.StatusCode, body)
				}
				decode(t, body, &env)
				check("objects", env.Objects)
				// Paging one by one with next.
				next, paged := "", []stixObj(nil)
				for {
					q := []string{"limit", "1"}
					if next != "" {
						q = append(q, "next", next)
					}
					getJSON(t, e, member, coll(cid, "objects", q...), http.StatusOK, &env)
					paged = append(paged, env.Objects...)
					if !env.More {
						break
					}
					next = env.Next
				}
				check("paging", paged)
				getJSON(t, e, member, coll(cid, "objects", "added_after", "1970-01-01T00:00:00Z", "match[type]", "indicator"), http.StatusOK, &env)
				check("added_after and type", env.Objects)
				var man struct {
					Objects []stixObj `json:"objects"`
				}
				getJSON(t, e, member, coll(cid, "manifest"), http.StatusOK, &man)
				check("manifest", man.Objects)
				for _, id := range every {
					for _, p := range []string{coll(cid, "objects/"+id), coll(cid, "objects", "match[id]", id)} {
						resp, body := e.Do(member, http.MethodGet, p, nil, accept)
						if resp.StatusCode == http.StatusNotFound {
							continue
						}
						decode(t, body, &env)
						check("by id", env.Objects)
					}
					resp, body := e.Do(member, http.MethodGet, coll(cid, "objects/"+id+"/versions"), nil, accept)
					if resp.StatusCode == http.StatusOK {
						check("versions", []stixObj{{ID: id}})
					} else if resp.StatusCode != http.StatusNotFound {
						t.Fatalf("versions: %d %s", resp.StatusCode, body)
					}
				}
			}
			want := slices.Sorted(maps.Keys(may[member]))
			got := slices.Sorted(maps.Keys(read))
			if !slices.Equal(got, want) {
				t.Errorf("%s reads %d objects, may read %d:\n got %v\nwant %v", member, len(got), len(want), got, want)
			}
		})
	}
	// The strict ones, said plainly.
	for _, m := range msgs {
		if m.level < tlp.AmberStrict {
			continue
		}
		for member, objs := range may {
			for _, o := range m.objects {
				if objs[o] && !slices.Contains(m.to, member) {
					t.Errorf("%s (%s) readable by %s, not a recipient", o, m.name, member)
				}
			}
		}
	}
	t.Logf("%d members, %d collections, %d query forms checked", len(cast), len(allCollections), forms)
}
