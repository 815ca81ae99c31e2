package taxii_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// stixObj is what the tests read of an object.
type stixObj struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Modified string `json:"modified"`
}

type envelopeJSON struct {
	More    bool      `json:"more"`
	Next    string    `json:"next"`
	Objects []stixObj `json:"objects"`
}

// ids lists "id@modified" of objects, sorted.
func ids(objs []stixObj) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.ID+"@"+o.Modified)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// objectsFixture routes, from st-mary to patient-care, an alert with an
// indicator, a malware and a relationship, then one with a new version of
// the indicator and a second indicator; and from the liaison a GREEN
// advisory to every sector with a third indicator.
type objectsFixture struct {
	e                    *webtest.Env
	i1v1, i1v2, m, r, i2 string // "id@modified"
	i1, i3               string // ids
	v1, v2               string // modified of i1's versions
	first                envelopeJSON
	firstHeader          string
}

func newObjectsFixture(t *testing.T) *objectsFixture {
	e := webtest.Start(t, webtest.Options{})
	f := &objectsFixture{e: e}
	ind := webtest.Indicator("203.0.113.10", tlp.Amber)
	mal := map[string]any{"type": "malware", "spec_version": "2.1", "id": "malware--" + webtest.UUID(), "created": ind["created"], "modified": ind["modified"],
		"name": "BlackHarbor", "is_family": true, "malware_types": []string{"ransomware"}, "object_marking_refs": []string{tlp.MarkingAmber}}
	rel := map[string]any{"type": "relationship", "spec_version": "2.1", "id": "relationship--" + webtest.UUID(), "created": ind["created"], "modified": ind["modified"],
		"relationship_type": "indicates", "source_ref": ind["id"], "target_ref": mal["id"], "object_marking_refs": []string{tlp.MarkingAmber}}
	e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "BlackHarbor C2", Lane: tocsinv1.Lane_LANE_FLASH,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: webtest.Bundle(ind, mal, rel)})
	time.Sleep(5 * time.Millisecond)
	v2 := maps.Clone(ind)
	v2["modified"] = time.Now().UTC().Add(time.Second).Format("2006-01-02T15:04:05.000Z")
	v2["pattern"] = "[ipv4-addr:value = '203.0.113.11']"
	ind2 := webtest.Indicator("203.0.113.12", tlp.Green)
	e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "BlackHarbor C2, update", Lane: tocsinv1.Lane_LANE_URGENT,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: webtest.Bundle(v2, ind2)})
	ind3 := webtest.Indicator("203.0.113.13", tlp.Green)
	e.Route("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "Block these", Body: "Patch the VPN appliance.",
		Lane: tocsinv1.Lane_LANE_URGENT, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: webtest.Bundle(ind3)})
	at := func(o map[string]any) string { return o["id"].(string) + "@" + o["modified"].(string) }
	f.i1, f.i3, f.v1, f.v2 = ind["id"].(string), ind3["id"].(string), ind["modified"].(string), v2["modified"].(string)
	f.i1v1, f.i1v2, f.m, f.r, f.i2 = at(ind), at(v2), at(mal), at(rel), at(ind2)
	resp := getJSON(t, e, "riverside", coll("sector-patient-care", "objects"), http.StatusOK, &f.first)
	f.firstHeader = resp.Header.Get("X-TAXII-Date-Added-First")
	return f
}

// coll is a collection endpoint path with a query.
func coll(collection, endpoint string, query ...string) string {
	p := "/taxii2/tocsin/collections/" + collection + "/" + endpoint
	if endpoint != "" {
		p += "/"
	}
	if len(query) > 0 {
		v := url.Values{}
		for i := 0; i+1 < len(query); i += 2 {
			v.Add(query[i], query[i+1])
		}
		p += "?" + v.Encode()
	}
	return p
}

func TestObjectsFilters(t *testing.T) {
	f := newObjectsFixture(t)
	e := f.e
	last := sorted(f.i1v2, f.m, f.r, f.i2)
	if got := ids(f.first.Objects); !slices.Equal(got, last) || f.first.More {
		t.Fatalf("objects (match[version]=last by default):\n got %v\nwant %v", got, last)
	}
	cases := []struct {
		name  string
		query []string
		want  []string
	}{
		{"version all", []string{"match[version]", "all"}, sorted(f.i1v1, f.i1v2, f.m, f.r, f.i2)},
		{"version first", []string{"match[version]", "first"}, sorted(f.i1v1, f.m, f.r, f.i2)},
		{"version last", []string{"match[version]", "last"}, last},
		{"version first,last", []string{"match[version]", "first,last"}, sorted(f.i1v1, f.i1v2, f.m, f.r, f.i2)},
		{"version timestamp", []string{"match[version]", f.v1}, sorted(f.i1v1, f.m, f.r)},
		{"type", []string{"match[type]", "indicator"}, sorted(f.i1v2, f.i2)},
		{"types", []string{"match[type]", "indicator,malware"}, sorted(f.i1v2, f.i2, f.m)},
		{"types repeated", []string{"match[type]", "indicator", "match[type]", "relationship"}, sorted(f.i1v2, f.i2, f.r)},
		{"id", []string{"match[id]", f.i1}, sorted(f.i1v2)},
		{"id all versions", []string{"match[id]", f.i1, "match[version]", "all"}, sorted(f.i1v1, f.i1v2)},
		{"id and type that miss", []string{"match[id]", f.i1, "match[type]", "malware"}, nil},
		{"spec_version 2.1", []string{"match[spec_version]", "2.1"}, last},
		{"spec_version 2.0", []string{"match[spec_version]", "2.0"}, nil},
		{"added_after the first", []string{"added_after", f.firstHeader}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var env envelopeJSON
			getJSON(t, e, "riverside", coll("sector-patient-care", "objects", c.query...), http.StatusOK, &env)
			got := ids(env.Objects)
			if c.name == "added_after the first" {
				if len(got) != len(last)-1 || slices.Contains(got, f.first.Objects[0].ID+"@"+f.first.Objects[0].Modified) {
					t.Fatalf("added_after the first object's date: %v", got)
				}
				return
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("\n got %v\nwant %v", got, c.want)
			}
		})
	}

	t.Run("paging and headers", func(t *testing.T) {
		var seen []string
		next := ""
		for page := 0; ; page++ {
			q := []string{"limit", "2", "match[version]", "all"}
			if next != "" {
				q = append(q, "next", next)
			}
			var env envelopeJSON
			resp := getJSON(t, e, "riverside", coll("sector-patient-care", "objects", q...), http.StatusOK, &env)
			if len(env.Objects) == 0 || len(env.Objects) > 2 {
				t.Fatalf("page %d: %d objects", page, len(env.Objects))
			}
			first, lastH := resp.Header.Get("X-TAXII-Date-Added-First"), resp.Header.Get("X-TAXII-Date-Added-Last")
			if first == "" || lastH == "" || first > lastH {
				t.Fatalf("page %d headers: %q %q", page, first, lastH)
			}
			seen = append(seen, ids(env.Objects)...)
			if !env.More {
				if env.Next != "" {
					t.Fatal("next without more")
				}
				break
			}
			next = env.Next
		}
		slices.Sort(seen)
		if want := sorted(f.i1v1, f.i1v2, f.m, f.r, f.i2); !slices.Equal(seen, want) {
			t.Fatalf("paged %v, want %v", seen, want)
		}
	})

	t.Run("manifest", func(t *testing.T) {
		var man struct {
			More    bool `json:"more"`
			Objects []struct {
				ID        string `json:"id"`
				DateAdded string `json:"date_added"`
				Version   string `json:"version"`
				MediaType string `json:"media_type"`
			} `json:"objects"`
		}
		resp := getJSON(t, e, "riverside", coll("sector-patient-care", "manifest", "match[version]", "all"), http.StatusOK, &man)
		if len(man.Objects) != 5 || man.More {
			t.Fatalf("manifest: %+v", man)
		}
		var got []string
		for i, o := range man.Objects {
			if o.MediaType != "application/stix+json;version=2.1" || o.DateAdded == "" || (i > 0 && o.DateAdded <= man.Objects[i-1].DateAdded) {
				t.Fatalf("manifest record %d: %+v", i, o)
			}
			got = append(got, o.ID+"@"+o.Version)
		}
		slices.Sort(got)
		if want := sorted(f.i1v1, f.i1v2, f.m, f.r, f.i2); !slices.Equal(got, want) {
			t.Fatalf("manifest %v, want %v", got, want)
		}
		if resp.Header.Get("X-TAXII-Date-Added-First") != man.Objects[0].DateAdded || resp.Header.Get("X-TAXII-Date-Added-Last") != man.Objects[4].DateAdded {
			t.Fatalf("manifest headers %v vs %s..%s", resp.Header, man.Objects[0].DateAdded, man.Objects[4].DateAdded)
		}
	})

	t.Run("object and versions", func(t *testing.T) {
		var env envelopeJSON
		getJSON(t, e, "riverside", coll("sector-patient-care", "objects/"+f.i1), http.StatusOK, &env)
		if got := ids(env.Objects); !slices.Equal(got, []string{f.i1v2}) {
			t.Fatalf("object (last): %v", got)
		}
		getJSON(t, e, "riverside", coll("sector-patient-care", "objects/"+f.i1, "match[version]", "all"), http.StatusOK, &env)
		if got := ids(env.Objects); !slices.Equal(got, sorted(f.i1v1, f.i1v2)) {
			t.Fatalf("object (all): %v", got)
		}
		getJSON(t, e, "riverside", coll("sector-patient-care", "objects/"+f.i1, "match[version]", "first"), http.StatusOK, &env)
		if got := ids(env.Objects); !slices.Equal(got, []string{f.i1v1}) {
			t.Fatalf("object (first): %v", got)
		}
		var vers struct {
			More     bool     `json:"more"`
			Versions []string `json:"versions"`
		}
		resp := getJSON(t, e, "riverside", coll("sector-patient-care", "objects/"+f.i1+"/versions"), http.StatusOK, &vers)
		if !slices.Equal(vers.Versions, []string{f.v1, f.v2}) || vers.More || resp.Header.Get("X-TAXII-Date-Added-Last") == "" {
			t.Fatalf("versions: %+v", vers)
		}
		getJSON(t, e, "riverside", coll("sector-patient-care", "objects/"+f.i1+"/versions", "limit", "1"), http.StatusOK, &vers)
		if len(vers.Versions) != 1 || !vers.More {
			t.Fatalf("versions limit 1: %+v", vers)
		}
		for _, p := range []string{
			coll("sector-patient-care", "objects/indicator--00000000-0000-4000-8000-000000000000"),
			coll("sector-patient-care", "objects/indicator--00000000-0000-4000-8000-000000000000/versions"),
			coll("advisories", "objects/"+f.i1),
			coll("inbox", "objects/"+f.i1+"/versions"),
		} {
			getJSON(t, e, "riverside", p, http.StatusNotFound, nil)
		}
	})

	t.Run("advisories", func(t *testing.T) {
		for _, member := range []string{"riverside", "acme-pharma", "hhs-liaison"} {
			var env envelopeJSON
			getJSON(t, e, member, coll("advisories", "objects"), http.StatusOK, &env)
			if len(env.Objects) != 1 || env.Objects[0].ID != f.i3 {
				t.Fatalf("%s's advisories: %v", member, ids(env.Objects))
			}
		}
	})

	t.Run("bad queries", func(t *testing.T) {
		var env envelopeJSON
		getJSON(t, e, "riverside", coll("sector-patient-care", "objects", "limit", "2"), http.StatusOK, &env)
		for name, q := range map[string][]string{
			"unknown parameter": {"match[name]", "x"},
			"added_after":       {"added_after", "yesterday"},
			"limit 0":           {"limit", "0"},
			"limit text":        {"limit", "ten"},
			"next garbage":      {"next", "!!"},
			"next of another":   {"next", env.Next, "match[type]", "indicator"},
			"version bogus":     {"match[version]", "newest"},
		} {
			resp, body := e.Do("riverside", http.MethodGet, coll("sector-patient-care", "objects", q...), nil, accept)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"http_status":"400"`) {
				t.Errorf("%s: %d %s", name, resp.StatusCode, body)
			}
		}
		resp, _ := e.Do("riverside", http.MethodGet, coll("sector-patient-care", "objects/"+f.i1+"/versions", "match[version]", "all"), nil, accept)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("match[version] on versions: %d", resp.StatusCode)
		}
		resp, _ = e.Do("riverside", http.MethodGet, coll("sector-patient-care", "objects/"+f.i1, "match[type]", "indicator"), nil, accept)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("match[type] on an object: %d", resp.StatusCode)
		}
	})

	t.Run("empty envelope", func(t *testing.T) {
		resp, body := e.Do("riverside", http.MethodGet, coll("inbox", "objects"), nil, accept)
		var raw map[string]json.RawMessage
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &raw) != nil || string(raw["more"]) != "false" || raw["objects"] != nil {
			t.Fatalf("empty inbox: %d %s", resp.StatusCode, body)
		}
		if resp.Header.Get("X-TAXII-Date-Added-First") != "" {
			t.Fatal("date headers on an empty result")
		}
	})
}
