package taxii_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/internal/webtest"
	"github.com/tocsin-project/tocsin/web/taxii"
)

// accept is the Accept header of a TAXII 2.1 client.
var accept = http.Header{"Accept": {taxii.MediaTAXII}}

// getJSON GETs path as member, checks the status and decodes the body.
func getJSON(t *testing.T, e *webtest.Env, member, path string, want int, into any) *http.Response {
	t.Helper()
	resp, body := e.Do(member, http.MethodGet, path, nil, accept)
	if resp.StatusCode != want {
		t.Fatalf("GET %s as %s: %d, want %d: %s", path, member, resp.StatusCode, want, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != taxii.MediaTAXII {
		t.Fatalf("GET %s: Content-Type %q, want %q", path, ct, taxii.MediaTAXII)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp
}

func TestDiscoveryAPIRootAndNegotiation(t *testing.T) {
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	var disc struct {
		Title    string   `json:"title"`
		Default  string   `json:"default"`
		APIRoots []string `json:"api_roots"`
	}
	getJSON(t, e, "st-mary", "/taxii2/", http.StatusOK, &disc)
	if disc.Title == "" || len(disc.APIRoots) != 1 || disc.Default != disc.APIRoots[0] || !strings.HasSuffix(disc.Default, "/taxii2/tocsin/") {
		t.Fatalf("discovery: %+v", disc)
	}
	var root struct {
		Versions         []string `json:"versions"`
		MaxContentLength int64    `json:"max_content_length"`
	}
	getJSON(t, e, "st-mary", "/taxii2/tocsin/", http.StatusOK, &root)
	if !slices.Equal(root.Versions, []string{taxii.MediaTAXII}) || root.MaxContentLength != 960<<10 {
		t.Fatalf("api root: %+v", root)
	}

	t.Run("authentication", func(t *testing.T) {
		resp, body := e.Do("", http.MethodGet, "/taxii2/", nil, accept)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("no credentials: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		var te struct {
			Title      string `json:"title"`
			HTTPStatus string `json:"http_status"`
		}
		if err := json.Unmarshal(body, &te); err != nil || te.HTTPStatus != "401" {
			t.Fatalf("error resource: %s", body)
		}
		for name, h := range map[string]http.Header{
			"wrong password":           {"Authorization": {"Basic c3QtbWFyeTp0YXQxLnN0LW1hcnkuMDAwMDAwMDAwMDAwMDAwMC5zZWNyZXQ="}},
			"another member's token":   {"Authorization": {"Bearer " + e.Tokens["riverside"]}, "X-Who": {"st-mary"}},
			"garbage bearer":           {"Authorization": {"Bearer nonsense"}},
			"signed by an unknown key": {"Authorization": {"Bearer tcs1.e30.AAAA"}},
		} {
			h.Set("Accept", taxii.MediaTAXII)
			resp, _ := e.Do("", http.MethodGet, "/taxii2/", nil, h)
			want := http.StatusUnauthorized
			if name == "another member's token" {
				want = http.StatusOK // a good token of riverside authenticates riverside
			}
			if resp.StatusCode != want {
				t.Errorf("%s: %d, want %d", name, resp.StatusCode, want)
			}
		}
		// Basic with a user name that is not the token's member.
		req := http.Header{"Accept": {taxii.MediaTAXII}}
		resp, _ = e.Do("", http.MethodGet, "/taxii2/", nil, withBasic(req, "st-mary", e.Tokens["riverside"]))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("basic user st-mary with riverside's token: %d", resp.StatusCode)
		}
	})

	t.Run("406", func(t *testing.T) {
		for _, a := range []string{"application/json", "application/taxii+json;version=2.0", "text/html", "application/stix+json;version=2.1"} {
			resp, body := e.Do("st-mary", http.MethodGet, "/taxii2/tocsin/collections/", nil, http.Header{"Accept": {a}})
			if resp.StatusCode != http.StatusNotAcceptable {
				t.Errorf("Accept %s: %d %s", a, resp.StatusCode, body)
			}
		}
		for _, a := range []string{"application/taxii+json", "application/taxii+json;version=2.1", "*/*", "text/html, application/taxii+json;version=2.1;q=0.5"} {
			resp, _ := e.Do("st-mary", http.MethodGet, "/taxii2/tocsin/collections/", nil, http.Header{"Accept": {a}})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("Accept %s: %d", a, resp.StatusCode)
			}
		}
	})

	t.Run("not found and methods", func(t *testing.T) {
		resp, _ := e.Do("st-mary", http.MethodGet, "/taxii2/other-root/", nil, accept)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown api root: %d", resp.StatusCode)
		}
		resp, _ = e.Do("st-mary", http.MethodDelete, "/taxii2/tocsin/collections/sector-patient-care/objects/", nil, accept)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("DELETE objects: %d", resp.StatusCode)
		}
	})
}

func withBasic(h http.Header, user, pass string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	h.Set("Authorization", r.Header.Get("Authorization"))
	return h
}

type collectionJSON struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Alias      string   `json:"alias"`
	CanRead    bool     `json:"can_read"`
	CanWrite   bool     `json:"can_write"`
	MediaTypes []string `json:"media_types"`
}

func TestCollections(t *testing.T) {
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	list := func(member string) map[string]collectionJSON {
		var res struct{ Collections []collectionJSON }
		getJSON(t, e, member, "/taxii2/tocsin/collections/", http.StatusOK, &res)
		out := map[string]collectionJSON{}
		for _, c := range res.Collections {
			out[c.Alias] = c
		}
		return out
	}
	mary := list("st-mary")
	if len(mary) != 3 || !mary["sector-patient-care"].CanWrite || mary["inbox"].CanWrite || mary["advisories"].CanWrite ||
		!mary["inbox"].CanRead || !slices.Equal(mary["inbox"].MediaTypes, []string{taxii.MediaSTIX}) {
		t.Fatalf("st-mary's collections: %+v", mary)
	}
	ir := list("ir-firm")
	if _, ok := ir["sector-health-it"]; !ok || len(ir) != 3 {
		t.Fatalf("ir-firm's collections: %+v", ir)
	}
	if ir["inbox"].ID == mary["inbox"].ID || ir["advisories"].ID != mary["advisories"].ID {
		t.Fatal("inbox ids must be per member, the advisories id shared")
	}
	var c collectionJSON
	getJSON(t, e, "st-mary", "/taxii2/tocsin/collections/"+mary["sector-patient-care"].ID+"/", http.StatusOK, &c)
	if c.Alias != "sector-patient-care" {
		t.Fatalf("collection by id: %+v", c)
	}
	getJSON(t, e, "st-mary", "/taxii2/tocsin/collections/inbox/", http.StatusOK, &c)
	// Another member's inbox, another sector: not found, as if they did
	// not exist.
	for _, id := range []string{ir["inbox"].ID, ir["sector-health-it"].ID, "sector-health-it"} {
		getJSON(t, e, "st-mary", "/taxii2/tocsin/collections/"+id+"/", http.StatusNotFound, nil)
		getJSON(t, e, "st-mary", "/taxii2/tocsin/collections/"+id+"/objects/", http.StatusNotFound, nil)
		getJSON(t, e, "st-mary", "/taxii2/tocsin/collections/"+id+"/manifest/", http.StatusNotFound, nil)
	}
}

// decode decodes a JSON body or fails.
func decode(t *testing.T, body []byte, into any) {
	t.Helper()
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}
