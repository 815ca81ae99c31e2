package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// hostileBody is an advisory in Markdown that tries to run script.
const hostileBody = "## Patch the VPN appliance\n\n" +
	"- block **203.0.113.7**\n- rotate the vendor's credentials\n\n" +
	"<script>document.title='pwned'</script>\n\n" +
	"<img src=x onerror=alert(1)>\n\n" +
	"[the vendor's note](javascript:alert(document.cookie)) and [CISA](https://www.cisa.gov/kev)\n"

type listed struct {
	ID           string    `json:"id"`
	Lane         string    `json:"lane"`
	Exercise     bool      `json:"exercise"`
	Acknowledged time.Time `json:"acknowledged"`
	Sightings    []struct {
		Sector        string `json:"sector"`
		Organisations int    `json:"organisations"`
		FewerThan     int    `json:"fewer_than"`
	} `json:"sightings"`
}

func ids(ms []listed) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestQueueFiltersSightingsAndMarkdown(t *testing.T) {
	e := webtest.Start(t, webtest.Options{})
	ind := webtest.Indicator("203.0.113.7", tlp.Amber)
	flash := e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "BlackHarbor C2", Lane: tocsinv1.Lane_LANE_FLASH,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: webtest.Bundle(ind)}).GetId()
	drill := e.Route("lakeside-childrens", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "Drill: phishing", Lane: tocsinv1.Lane_LANE_ROUTINE, Exercise: true,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: webtest.Bundle(webtest.Indicator("198.51.100.9", tlp.Green))}).GetId()
	adv := e.Route("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "Patch now", Body: hostileBody, Lane: tocsinv1.Lane_LANE_URGENT,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN}).GetId()

	getList := func(member, path string) []listed {
		t.Helper()
		resp, data := e.Do(member, http.MethodGet, path, nil, nil)
		var out struct {
			Messages []listed
			Count    int
			Flash    int
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &out) != nil {
			t.Fatalf("%s %s: %d %s", member, path, resp.StatusCode, data)
		}
		if strings.HasPrefix(path, "/console/api/queue") && (out.Count != len(out.Messages) || out.Flash != countFlash(out.Messages)) {
			t.Fatalf("queue counts %d/%d for %v", out.Count, out.Flash, ids(out.Messages))
		}
		return out.Messages
	}

	// The queue: what was routed to riverside, most severe first.
	if got := ids(getList("riverside", "/console/api/queue")); !slices.Equal(got, []string{flash, adv, drill}) {
		t.Fatalf("riverside's queue %v, want flash %s, advisory %s, drill %s", got, flash, adv, drill)
	}
	// What a member sent itself is not in its own queue.
	if got := ids(getList("st-mary", "/console/api/queue")); !slices.Equal(got, []string{adv, drill}) {
		t.Fatalf("st-mary's queue %v", got)
	}

	// Riverside acknowledges the flash alert in the console: a receipt the
	// router records; the queue is read from the records, so asking again
	// (a reload, another node) gives the same queue.
	resp, data := e.Do("riverside", http.MethodPost, "/console/api/messages/"+flash+"/receipt", strings.NewReader(`{"state":"acknowledged","by":"J. Ortiz, SOC"}`), jsonPost)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("receipt: %d %s", resp.StatusCode, data)
	}
	testwait.For(t, 30*time.Second, "the acknowledged alert to leave riverside's queue", testwait.True(func() bool {
		return slices.Equal(ids(getList("riverside", "/console/api/queue")), []string{adv, drill})
	}))
	if got := ids(getList("riverside", "/console/api/queue")); !slices.Equal(got, []string{adv, drill}) {
		t.Fatalf("riverside's queue asked again: %v", got)
	}
	if got := ids(getList("lakeside-childrens", "/console/api/queue")); !slices.Equal(got, []string{flash, adv}) {
		t.Fatalf("another member's queue changed with riverside's receipt: %v", got)
	}
	for _, m := range getList("riverside", "/console/api/messages") {
		if (m.ID == flash) == m.Acknowledged.IsZero() {
			t.Errorf("message %s acknowledged at %v", m.ID, m.Acknowledged)
		}
	}
	resp, data = e.Do("riverside", http.MethodPost, "/console/api/messages/"+adv+"/receipt", strings.NewReader(`{"state":"acknowledged","by":"`+strings.Repeat("x", 129)+`"}`), jsonPost)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a by of 129 bytes: %d %s", resp.StatusCode, data)
	}

	// Filters and the indicator search.
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{adv, drill, flash}},
		{"lane=flash", []string{flash}},
		{"tlp=TLP:GREEN", []string{adv, drill}},
		{"sender=hhs-liaison", []string{adv}},
		{"exercise=only", []string{drill}},
		{"exercise=hide", []string{adv, flash}},
		{"kind=alert&sector=patient-care", []string{drill, flash}},
		{"sector=pharma", nil},
		{"q=" + url.QueryEscape("203.0.113.7"), []string{flash}},
		{"q=198.51.100", []string{drill}},
		{"q=192.0.2.1", nil},
	} {
		if got := ids(getList("riverside", "/console/api/messages?"+c.query)); !slices.Equal(got, c.want) {
			t.Errorf("messages?%s: %v, want %v", c.query, got, c.want)
		}
	}
	for _, q := range []string{"lane=loud", "tlp=white", "exercise=maybe", "kind=sighting"} {
		if resp, data := e.Do("riverside", http.MethodGet, "/console/api/messages?"+q, nil, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("messages?%s: %d %s", q, resp.StatusCode, data)
		}
	}

	// The advisory's Markdown is rendered, its HTML and script links not.
	resp, data = e.Do("riverside", http.MethodGet, "/console/api/messages/"+adv, nil, nil)
	var m struct {
		BodyHTML string `json:"body_html"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &m) != nil {
		t.Fatalf("advisory: %d %s", resp.StatusCode, data)
	}
	for _, want := range []string{"<h2>Patch the VPN appliance</h2>", "<li>block <strong>203.0.113.7</strong></li>", `<a href="https://www.cisa.gov/kev">CISA</a>`} {
		if !strings.Contains(m.BodyHTML, want) {
			t.Errorf("body_html lacks %s:\n%s", want, m.BodyHTML)
		}
	}
	for _, bad := range []string{"<script", "onerror", "javascript:", "<img"} {
		if strings.Contains(strings.ToLower(m.BodyHTML), bad) {
			t.Errorf("body_html has %s:\n%s", bad, m.BodyHTML)
		}
	}

	// Sightings of the flash alert's indicator by three other hospitals.
	sighting := func(member string) {
		e.Publish(member, tocsinv1.Kind_KIND_SIGHTING, &tocsinv1.Sighting{IndicatorId: ind["id"].(string), Count: 1})
	}
	sighting("riverside")
	sighting("valley-general")
	sighting("hilltop")
	count := func(member string) (int, int) {
		for _, m := range getList(member, "/console/api/messages?lane=flash") {
			for _, s := range m.Sightings {
				if s.Sector == "patient-care" {
					return s.Organisations, s.FewerThan
				}
			}
		}
		return -1, -1
	}
	testwait.For(t, 30*time.Second, "three organisations on the flash alert", testwait.True(func() bool { n, _ := count("lakeside-childrens"); return n == 3 }))
	if n, _ := count("st-mary"); n != 3 {
		t.Errorf("the originator sees %d", n)
	}
	if n, _ := count("acme-pharma"); n != -1 {
		t.Errorf("a member outside the sector sees a count: %d", n)
	}
}

func countFlash(ms []listed) int {
	n := 0
	for _, m := range ms {
		if m.Lane == "flash" {
			n++
		}
	}
	return n
}
