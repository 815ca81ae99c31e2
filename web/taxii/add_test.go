package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/webtest"
	"github.com/tocsin-project/tocsin/tlp"
	"github.com/tocsin-project/tocsin/web/taxii"
)

type statusJSON struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	TotalCount   int    `json:"total_count"`
	SuccessCount int    `json:"success_count"`
	FailureCount int    `json:"failure_count"`
	PendingCount int    `json:"pending_count"`
	Failures     []struct {
		ID, Version, Message string
	} `json:"failures"`
	Successes []struct{ ID, Version, Message string } `json:"successes"`
}

// post POSTs body to a collection's objects as member.
func post(t *testing.T, e *webtest.Env, member, collection, contentType string, body []byte, extra http.Header) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{"Accept": {taxii.MediaTAXII}, "Content-Type": {contentType}}
	for k, v := range extra {
		h[k] = v
	}
	return e.Do(member, http.MethodPost, coll(collection, "objects"), bytes.NewReader(body), h)
}

// settle polls a status until it is complete.
func settle(t *testing.T, e *webtest.Env, member string, st statusJSON) statusJSON {
	t.Helper()
	testwait.For(t, 30*time.Second, fmt.Sprintf("status %s to complete", st.ID), testwait.True(func() bool {
		if st.Status == "complete" {
			return true
		}
		getJSON(t, e, member, "/taxii2/tocsin/status/"+st.ID+"/", http.StatusOK, &st)
		return st.Status == "complete"
	}))
	return st
}

// submit POSTs and expects 202 and a status resource.
func submit(t *testing.T, e *webtest.Env, member, collection, contentType string, body []byte, extra http.Header) statusJSON {
	t.Helper()
	resp, data := post(t, e, member, collection, contentType, body, extra)
	var st statusJSON
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Content-Type") != taxii.MediaTAXII || json.Unmarshal(data, &st) != nil || st.ID == "" {
		t.Fatalf("POST as %s: %d %s", member, resp.StatusCode, data)
	}
	return settle(t, e, member, st)
}

func envelopeBody(objects ...map[string]any) []byte {
	data, _ := json.Marshal(map[string]any{"objects": objects})
	return data
}

func TestAddObjects(t *testing.T) {
	e := webtest.Start(t, webtest.Options{})
	ind := webtest.Indicator("203.0.113.50", tlp.Amber)

	t.Run("envelope becomes a relayed alert", func(t *testing.T) {
		st := submit(t, e, "lakeside-childrens", "sector-patient-care", taxii.MediaTAXII, envelopeBody(ind), http.Header{taxii.HeaderTitle: {"C2 seen at Lakeside"}})
		if st.TotalCount != 1 || st.SuccessCount != 1 || st.FailureCount != 0 || st.Successes[0].ID != ind["id"] || st.Successes[0].Version != ind["modified"] {
			t.Fatalf("status: %+v", st)
		}
		e.WaitCopies("lakeside-childrens", st.ID, 1)
		mary, _ := e.Registry.Member(context.Background(), "riverside")
		msg, err := e.Web.Store().Message(mary, st.ID)
		if err != nil || msg.Sender != "lakeside-childrens" || msg.Via != "taxii" || msg.KeyID != e.Service.KeyID() || msg.TLPName != "amber" || msg.Title != "C2 seen at Lakeside" {
			t.Fatalf("the routed alert: %+v %v", msg, err)
		}
		var env envelopeJSON
		getJSON(t, e, "riverside", coll("sector-patient-care", "objects", "match[id]", ind["id"].(string)), http.StatusOK, &env)
		if len(env.Objects) != 1 {
			t.Fatalf("riverside reads %d objects", len(env.Objects))
		}
		// The status is the poster's: another member does not find it.
		getJSON(t, e, "riverside", "/taxii2/tocsin/status/"+st.ID+"/", http.StatusNotFound, nil)
		getJSON(t, e, "lakeside-childrens", "/taxii2/tocsin/status/"+envelope.NewID()+"/", http.StatusNotFound, nil)
	})

	t.Run("bundle as stix+json", func(t *testing.T) {
		st := submit(t, e, "hilltop", "sector-patient-care", taxii.MediaSTIX, webtest.Bundle(webtest.Indicator("203.0.113.51", tlp.Green)), nil)
		if st.SuccessCount != 1 {
			t.Fatalf("status: %+v", st)
		}
	})

	t.Run("refusals with reasons", func(t *testing.T) {
		bad := webtest.Indicator("203.0.113.52", tlp.Amber)
		bad["pattern"] = "[ipv4-addr:value = "
		st := submit(t, e, "hilltop", "sector-patient-care", taxii.MediaTAXII, envelopeBody(bad, webtest.Indicator("203.0.113.53", tlp.Amber)), nil)
		if st.FailureCount != 2 || st.SuccessCount != 0 || !strings.Contains(st.Failures[0].Message, "invalid-pattern") ||
			!strings.Contains(st.Failures[1].Message, "invalid-pattern") {
			t.Fatalf("status: %+v", st)
		}
		red := webtest.Indicator("203.0.113.54", tlp.Red)
		st = submit(t, e, "st-mary", "sector-patient-care", taxii.MediaTAXII, envelopeBody(red), nil)
		if st.FailureCount != 1 || !strings.Contains(st.Failures[0].Message, "tlp-needs-recipients") {
			t.Fatalf("red without recipients: %+v", st)
		}
	})

	t.Run("red to named recipients", func(t *testing.T) {
		red := webtest.Indicator("203.0.113.55", tlp.Red)
		st := submit(t, e, "st-mary", "sector-patient-care", taxii.MediaTAXII, envelopeBody(red), http.Header{taxii.HeaderRecipients: {"ir-firm, downtime-staffing"}})
		if st.SuccessCount != 1 {
			t.Fatalf("status: %+v", st)
		}
		e.WaitCopies("st-mary", st.ID, 2)
		for member, want := range map[string]int{"ir-firm": 1, "downtime-staffing": 1, "riverside": 0} {
			var env envelopeJSON
			getJSON(t, e, member, coll("inbox", "objects", "match[id]", red["id"].(string)), http.StatusOK, &env)
			if len(env.Objects) != want {
				t.Errorf("%s's inbox holds %d copies of the RED object, want %d", member, len(env.Objects), want)
			}
		}
		var env envelopeJSON
		getJSON(t, e, "riverside", coll("sector-patient-care", "objects", "match[id]", red["id"].(string)), http.StatusOK, &env)
		if len(env.Objects) != 0 {
			t.Fatal("a RED object on a sector collection")
		}
	})

	t.Run("4xx", func(t *testing.T) {
		unmarked := webtest.Indicator("203.0.113.56", tlp.Clear)
		delete(unmarked, "object_marking_refs")
		huge := bytes.Repeat([]byte(" "), 961<<10)
		cases := []struct {
			name, member, collection, ctype string
			body                            []byte
			header                          http.Header
			want                            int
		}{
			{"unmarked", "st-mary", "sector-patient-care", taxii.MediaTAXII, envelopeBody(unmarked), nil, http.StatusUnprocessableEntity},
			{"json", "st-mary", "sector-patient-care", "application/json", envelopeBody(ind), nil, http.StatusUnsupportedMediaType},
			{"taxii 2.0", "st-mary", "sector-patient-care", "application/taxii+json;version=2.0", envelopeBody(ind), nil, http.StatusUnsupportedMediaType},
			{"accept", "st-mary", "sector-patient-care", taxii.MediaTAXII, envelopeBody(ind), http.Header{"Accept": {"application/json"}}, http.StatusNotAcceptable},
			{"too large", "st-mary", "sector-patient-care", taxii.MediaTAXII, huge, nil, http.StatusRequestEntityTooLarge},
			{"inbox", "st-mary", "inbox", taxii.MediaTAXII, envelopeBody(ind), nil, http.StatusForbidden},
			{"advisories", "st-mary", "advisories", taxii.MediaTAXII, envelopeBody(ind), nil, http.StatusForbidden},
			{"another sector", "st-mary", "sector-pharma", taxii.MediaTAXII, envelopeBody(ind), nil, http.StatusNotFound},
			{"not json", "st-mary", "sector-patient-care", taxii.MediaTAXII, []byte("{"), nil, http.StatusBadRequest},
			{"no objects", "st-mary", "sector-patient-care", taxii.MediaTAXII, []byte(`{"objects":[]}`), nil, http.StatusBadRequest},
			{"lane", "st-mary", "sector-patient-care", taxii.MediaTAXII, envelopeBody(ind), http.Header{taxii.HeaderLane: {"panic"}}, http.StatusBadRequest},
		}
		for _, c := range cases {
			resp, body := post(t, e, c.member, c.collection, c.ctype, c.body, c.header)
			if resp.StatusCode != c.want {
				t.Errorf("%s: %d, want %d: %.200s", c.name, resp.StatusCode, c.want, body)
			}
		}
		// Too large without a Content-Length: the read is cut off.
		h := http.Header{"Accept": {taxii.MediaTAXII}, "Content-Type": {taxii.MediaTAXII}}
		resp, _ := e.Do("st-mary", http.MethodPost, coll("sector-patient-care", "objects"), io.MultiReader(bytes.NewReader(huge)), h)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked too large: %d", resp.StatusCode)
		}
	})
}
