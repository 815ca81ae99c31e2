package taxii_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// TestAMemberTokenWorksAsSentinelsTAXIIConnector: Microsoft Sentinel's
// "Threat intelligence - TAXII" connector is configured with the API root
// URL, a collection id (not its alias), a user name and a password, and
// polls objects with added_after, following next while more is true, then
// again from the last X-TAXII-Date-Added-Last. The member id and its
// access token work as that user name and password (docs/HTTP.md).
func TestAMemberTokenWorksAsSentinelsTAXIIConnector(t *testing.T) {
	e := webtest.Start(t, webtest.Options{})
	// What the analyst types into Sentinel: the API root from discovery
	// and the collection's id from the collections list.
	var disc struct {
		APIRoots []string `json:"api_roots"`
	}
	getJSON(t, e, "riverside", "/taxii2/", http.StatusOK, &disc)
	root, err := url.Parse(disc.APIRoots[0])
	if err != nil || root.Path != "/taxii2/tocsin/" {
		t.Fatalf("api root %q: %v", disc.APIRoots, err)
	}
	var colls struct {
		Collections []collectionJSON `json:"collections"`
	}
	getJSON(t, e, "riverside", root.Path+"collections/", http.StatusOK, &colls)
	id := ""
	for _, c := range colls.Collections {
		if c.Alias == "sector-patient-care" && c.CanRead {
			id = c.ID
		}
	}
	if id == "" || strings.HasPrefix(id, "sector-") {
		t.Fatalf("no readable patient-care collection with an id: %+v", colls.Collections)
	}
	route := func(ip string) string {
		ind := webtest.Indicator(ip, tlp.Green)
		e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "C2 " + ip, Lane: tocsinv1.Lane_LANE_URGENT,
			Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: webtest.Bundle(ind)})
		return ind["id"].(string)
	}
	want := map[string]bool{route("203.0.113.21"): true, route("203.0.113.22"): true, route("203.0.113.23"): true}

	// poll is one Sentinel poll: from addedAfter, two objects a page,
	// following next; it returns the indicator ids and the last added time.
	poll := func(addedAfter string) (map[string]bool, string) {
		got, last, next := map[string]bool{}, addedAfter, ""
		for range 20 {
			q := url.Values{"added_after": {addedAfter}, "limit": {"2"}}
			if next != "" {
				q.Set("next", next)
			}
			var env envelopeJSON
			resp := getJSON(t, e, "riverside", root.Path+"collections/"+id+"/objects/?"+q.Encode(), http.StatusOK, &env)
			for _, o := range env.Objects {
				if o.Type == "indicator" {
					if got[o.ID] {
						t.Errorf("indicator %s came twice in one poll", o.ID)
					}
					got[o.ID] = true
				}
			}
			if h := resp.Header.Get("X-TAXII-Date-Added-Last"); h != "" {
				last = h
			}
			if !env.More {
				return got, last
			}
			next = env.Next
		}
		t.Fatal("the poll did not end in 20 pages")
		return nil, ""
	}
	first, last := poll(time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339))
	for ind := range want {
		if !first[ind] {
			t.Errorf("the first poll lacks %s: %v", ind, first)
		}
	}
	fresh := route("203.0.113.24")
	second, _ := poll(last)
	if len(second) != 1 || !second[fresh] {
		t.Errorf("the next poll from X-TAXII-Date-Added-Last %s got %v, want only %s", last, second, fresh)
	}
}
