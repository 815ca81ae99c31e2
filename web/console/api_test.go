package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

var jsonPost = http.Header{"Content-Type": {"application/json"}, "X-Tocsin-Console": {"1"}}

func TestLoginAndCSRF(t *testing.T) {
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	resp, _ := e.Do("", http.MethodPost, "/console/api/login", strings.NewReader(`{"member":"riverside","token":"tat1.riverside.00.x"}`), jsonPost)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
	body := `{"member":"riverside","token":"` + e.Tokens["riverside"] + `"}`
	resp, _ = e.Do("", http.MethodPost, "/console/api/login", strings.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without the console header: %d", resp.StatusCode)
	}
	resp, data := e.Do("", http.MethodPost, "/console/api/login", strings.NewReader(`{"member":"st-mary","token":"`+e.Tokens["riverside"]+`"}`), jsonPost)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("riverside's token as st-mary: %d %s", resp.StatusCode, data)
	}
	resp, data = e.Do("", http.MethodPost, "/console/api/login", strings.NewReader(body), jsonPost)
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %s", resp.StatusCode, data)
	}
	cookie := resp.Cookies()[0]
	withCookie := func(method, path, body string, h http.Header) int {
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := withCookie(http.MethodGet, "/console/api/me", "", nil); got != http.StatusOK {
		t.Fatalf("me with the session: %d", got)
	}
	if got := withCookie(http.MethodPost, "/console/api/messages/X/receipt", `{"state":"acknowledged"}`, http.Header{"Content-Type": {"application/json"}}); got != http.StatusForbidden {
		t.Fatalf("a session POST without the console header: %d", got)
	}
	if got := withCookie(http.MethodPost, "/console/api/logout", "", jsonPost); got != http.StatusNoContent {
		t.Fatalf("logout: %d", got)
	}
	// Pages and their headers.
	resp, data = e.Do("", http.MethodGet, "/console/", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), "app.js") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("index: %d %v", resp.StatusCode, resp.Header)
	}
	for _, p := range []string{"/console/app.js", "/console/app.css"} {
		if resp, _ := e.Do("", http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/", nil)
	if resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req); err != nil ||
		resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("/ does not lead to the console: %v %v", resp, err)
	}
}

// stream opens member's event stream and returns the message ids it
// receives, on a channel.
func stream(t *testing.T, e *webtest.Env, member string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+"/console/api/events", nil)
	req.SetBasicAuth(member, e.Tokens[member])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %v %v", resp, err)
	}
	out := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				event = name
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok && event == "message" {
				var m struct{ ID string }
				_ = json.Unmarshal([]byte(data), &m)
				out <- m.ID
			}
		}
	}()
	return out
}

func TestEventsAndMessagesFollowTLP(t *testing.T) {
	e := webtest.Start(t, webtest.Options{})
	riverside := stream(t, e, "riverside")
	irFirm := stream(t, e, "ir-firm")
	alert := func(level tlp.Level, sectors, to []string, ip string) string {
		return e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: level.String(), Lane: tocsinv1.Lane_LANE_URGENT, Sectors: sectors, Recipients: to,
			Tlp: level.Proto(), StixBundle: webtest.Bundle(webtest.Indicator(ip, level))}).GetId()
	}
	red := alert(tlp.Red, nil, []string{"ir-firm"}, "203.0.113.60")
	pharma := alert(tlp.Amber, []string{"pharma"}, nil, "203.0.113.61")
	green := alert(tlp.Green, []string{"patient-care"}, nil, "203.0.113.62")
	// Events come in routing order: a leak would come before green.
	select {
	case id := <-riverside:
		if id != green {
			t.Fatalf("riverside's stream got %s (red %s, pharma %s) before green %s", id, red, pharma, green)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("riverside's stream got nothing")
	}
	select {
	case id := <-irFirm:
		if id != red {
			t.Fatalf("ir-firm's stream got %s first, want the red alert", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ir-firm's stream got nothing")
	}
	get := func(member, path string) (int, []byte) {
		resp, data := e.Do(member, http.MethodGet, path, nil, nil)
		return resp.StatusCode, data
	}
	for _, c := range []struct {
		member, id string
		want       int
	}{
		{"riverside", red, 404}, {"riverside", pharma, 404}, {"riverside", green, 200},
		{"ir-firm", red, 200}, {"st-mary", red, 200}, {"acme-pharma", pharma, 200}, {"acme-pharma", red, 404},
	} {
		if got, body := get(c.member, "/console/api/messages/"+c.id); got != c.want {
			t.Errorf("%s reading %s: %d, want %d: %s", c.member, c.id, got, c.want, body)
		}
	}
	_, data := get("riverside", "/console/api/messages")
	var list struct{ Messages []struct{ ID string } }
	_ = json.Unmarshal(data, &list)
	var ids []string
	for _, m := range list.Messages {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{green}) {
		t.Fatalf("riverside's list: %v", ids)
	}
}

func TestReachFromReceipts(t *testing.T) {
	e := webtest.Start(t, webtest.Options{Aid: true})
	adv := e.Route("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "Patch now", Body: "VPN appliance", Lane: tocsinv1.Lane_LANE_URGENT,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN}).GetId()
	if resp, _ := e.Do("riverside", http.MethodGet, "/console/api/reach/"+adv, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a member reading reach: %d", resp.StatusCode)
	}
	type group struct {
		Sector       string   `json:"sector"`
		Members      int      `json:"members"`
		Acknowledged int      `json:"acknowledged"`
		Waiting      []string `json:"not_acknowledged"`
	}
	reach := func() group {
		resp, data := e.Do("hhs-liaison", http.MethodGet, "/console/api/reach/"+adv, nil, nil)
		var r struct{ Groups []group }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &r) != nil || len(r.Groups) != 1 {
			t.Fatalf("reach: %d %s", resp.StatusCode, data)
		}
		return r.Groups[0]
	}
	if g := reach(); g.Sector != "patient-care" || g.Members != 5 || g.Acknowledged != 0 || !slices.Contains(g.Waiting, "riverside") {
		t.Fatalf("reach before: %+v", g)
	}
	resp, data := e.Do("riverside", http.MethodPost, "/console/api/messages/"+adv+"/receipt", strings.NewReader(`{"state":"acknowledged"}`), jsonPost)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("receipt: %d %s", resp.StatusCode, data)
	}
	testwait.For(t, 30*time.Second, "riverside's acknowledgement in the reach", testwait.True(func() bool {
		g := reach()
		return g.Acknowledged == 1 && !slices.Contains(g.Waiting, "riverside")
	}))
	// Aid and situation answer through the read path.
	for _, p := range []string{"/console/api/aid", "/console/api/situation", "/console/api/health"} {
		if resp, data := e.Do("st-mary", http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", p, resp.StatusCode, data)
		}
	}
	if resp, _ := e.Do("st-mary", http.MethodGet, "/console/api/aid/01ZZZZZZZZZZZZZZZZZZZZZZZZ", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown aid request: %d", resp.StatusCode)
	}
}
