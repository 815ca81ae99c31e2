package console_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// zone makes the tab's browser run in time zone id.
func (b *browserPage) zone(id string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: id}); err != nil {
		b.t.Fatalf("%s: time zone %s: %v", b.name, id, err)
	}
}

// grant answers yes, for origin, to the tab's requests for permission.
func (b *browserPage) grant(origin, permission string) {
	b.t.Helper()
	_, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{Permission: &browser.PermissionDescriptor{Name: permission},
		Setting: "granted", Origin: origin, BrowserContextID: chromedp.FromContext(b.ctx).BrowserContextID})
	if err != nil {
		b.t.Fatalf("%s: grant %s: %v", b.name, permission, err)
	}
}

// queueIDs returns the ids the page's queue shows, in order.
func (b *browserPage) queueIDs() []string {
	b.t.Helper()
	return eval[[]string](b, `[...document.querySelectorAll("#queue-list .card")].map((c) => c.dataset.id)`)
}

// boardIDs returns the ids the board list shows, in order.
func (b *browserPage) boardIDs() []string {
	b.t.Helper()
	return eval[[]string](b, `[...document.querySelectorAll("#board-list .card")].map((c) => c.dataset.id)`)
}

// TestConsoleAtTwoInTheMorning is issue 18's analyst: what needs them is
// a queue of what they have not acknowledged, which a reload does not
// lose; FLASH takes the tab title, a banner, a sound once armed and a
// notification; drills put an EXERCISE banner across the page; times are
// local and refresh; the board filters and searches by indicator value.
func TestConsoleAtTwoInTheMorning(t *testing.T) {
	bin := chromium(t)
	e := webtest.Start(t, webtest.Options{})
	open := startBrowser(t, bin, 4*time.Minute)

	drill := e.Route("lakeside-childrens", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "Drill: phishing wave", Lane: tocsinv1.Lane_LANE_ROUTINE, Exercise: true,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: webtest.Bundle(webtest.Indicator("198.51.100.9", tlp.Green))}).GetId()
	adv := e.Route("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "Patch the VPN appliance", Body: hostileBody,
		Lane: tocsinv1.Lane_LANE_URGENT, Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN}).GetId()

	// Riverside's night analyst, in New York, with notifications allowed.
	soc := open("night-riverside", 1280, 900)
	soc.zone("America/New_York")
	soc.grant(e.URL, "notifications")
	soc.login(e, "riverside")
	soc.wait(`document.getElementById("queue-count").textContent === "2"`)
	if got := soc.queueIDs(); !slices.Equal(got, []string{adv, drill}) {
		t.Fatalf("the queue shows %v, want the advisory %s then the drill %s", got, adv, drill)
	}
	if got := eval[string](soc, `document.getElementById("tz").textContent`); got != "times: America/New_York" {
		t.Errorf("the time zone shown: %q", got)
	}
	// December in New York is EST; every time says when in local time.
	soc.wait(`document.querySelector("#board-list time[data-rel]")`)
	if got := eval[string](soc, `document.querySelector("#board-list time[data-rel]").title`); !strings.Contains(got, "EST") {
		t.Errorf("a card's time in local time: %q", got)
	}
	if eval[bool](soc, `!document.getElementById("arm-banner").hidden && document.body.dataset.armed === undefined`) != true {
		t.Error("no arm banner before alerts are armed")
	}
	if eval[bool](soc, `document.getElementById("exercise-banner").hidden`) {
		t.Error("no EXERCISE banner with a drill on the page")
	}
	soc.shot("queue")

	// Arm alerts, by keyboard.
	soc.press("#arm")
	soc.wait(`document.body.dataset.armed === "true" && document.getElementById("arm-banner").hidden && !document.getElementById("armed-state").hidden`)
	armedSounds := eval[string](soc, `document.body.dataset.sounds || "0"`)

	// FLASH.
	ind := webtest.Indicator("203.0.113.7", tlp.Amber)
	flash := e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "Ransomware: BlackHarbor C2", Lane: tocsinv1.Lane_LANE_FLASH,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: webtest.Bundle(ind)}).GetId()
	soc.wait(`document.title === "(1) FLASH — Tocsin"`)
	soc.wait(`!document.getElementById("flash-banner").hidden && document.getElementById("flash-banner").textContent.includes("Ransomware: BlackHarbor C2")`)
	soc.wait(`Number(document.body.dataset.sounds) > ` + armedSounds)
	if got := eval[string](soc, `Notification.permission + " " + (document.body.dataset.notified || "0")`); got != "granted 1" {
		t.Errorf("notification permission and notifications shown: %q", got)
	}
	if got := soc.queueIDs(); !slices.Equal(got, []string{flash, adv, drill}) {
		t.Errorf("the queue after the FLASH: %v", got)
	}
	soc.shot("flash")

	// A reload loses nothing of the queue; the new page must be armed again.
	soc.run("reload", chromedp.Reload())
	soc.wait(`document.getElementById("queue-count").textContent === "3"`)
	if got := soc.queueIDs(); !slices.Equal(got, []string{flash, adv, drill}) {
		t.Errorf("the queue after a reload: %v", got)
	}
	soc.wait(`document.title === "(1) FLASH — Tocsin" && !document.getElementById("arm-banner").hidden`)
	soc.shot("reloaded")

	// The analyst acknowledges the FLASH from the queue, as J. Ortiz.
	soc.run("focus the by field", chromedp.Focus(chromedp.CSS("#ack-by"), chromedp.NodeVisible))
	soc.typeText("J. Ortiz, SOC")
	soc.press(`button[data-ack="` + flash + `"]`)
	soc.wait(`document.getElementById("queue-count").textContent === "2" && document.title === "Alert board · Tocsin"`)
	soc.wait(`document.getElementById("flash-banner").hidden && document.querySelector('#board-list .card[data-id="` + flash + `"] .ack-state:not([hidden])')`)
	soc.run("reload", chromedp.Reload())
	soc.wait(`document.getElementById("queue-count").textContent === "2"`)
	if got := soc.queueIDs(); !slices.Equal(got, []string{adv, drill}) {
		t.Errorf("the queue after the acknowledgement and a reload: %v", got)
	}
	soc.shot("acknowledged")

	// Filters and the indicator search, through the form.
	// filter sets a field of the form and submits it; the board shows the
	// result once its list says it was loaded for query.
	filter := func(field, value, query string, want ...string) {
		t.Helper()
		soc.do(fmt.Sprintf(`for (const el of document.getElementById("filters").elements) if (el.name) el.value = ""; document.getElementById(%q).value = %q; document.getElementById("filter-apply").click()`, field, value))
		soc.wait(fmt.Sprintf(`location.hash === %q && document.getElementById("board-list").dataset.loaded === %q`, "#/board?"+query, query))
		if got := soc.boardIDs(); !slices.Equal(got, want) {
			t.Errorf("%s=%s: the board shows %v, want %v", field, value, got, want)
		}
	}
	filter("f-q", "203.0.113.7", "q=203.0.113.7", flash)
	soc.shot("search")
	filter("f-lane", "urgent", "lane=urgent", adv)
	filter("f-tlp", "amber", "tlp=amber", flash)
	filter("f-sender", "lakeside-childrens", "sender=lakeside-childrens", drill)
	filter("f-sector", "direct", "sector=direct")
	filter("f-exercise", "hide", "exercise=hide", flash, adv)
	filter("f-exercise", "only", "exercise=only", drill)
	if eval[bool](soc, `document.getElementById("exercise-banner").hidden`) {
		t.Error("no EXERCISE banner on the exercises' board")
	}
	soc.shot("exercises")

	// Three other hospitals see the FLASH's indicator: the count is on the card.
	for _, m := range []string{"lakeside-childrens", "valley-general", "hilltop"} {
		e.Publish(m, tocsinv1.Kind_KIND_SIGHTING, &tocsinv1.Sighting{IndicatorId: ind["id"].(string), Count: 1})
	}
	soc.do(`location.hash = "#/board"`)
	soc.wait(`(document.querySelector('#board-list .card[data-id="` + flash + `"] .sightings') || {}).textContent === "Seen by 3 organisations in patient-care"`)
	soc.shot("sightings")

	// The advisory's Markdown is formatted; its script and links do nothing.
	soc.do(`location.hash = "#/message/` + adv + `"`)
	soc.wait(`document.querySelector("#advisory-body h2") && document.querySelectorAll("#advisory-body li").length === 2`)
	if got := eval[string](soc, `document.title`); got != "Patch the VPN appliance · Tocsin" {
		t.Errorf("a script of the advisory ran: title %q", got)
	}
	for _, sel := range []string{"script", "img", "[onerror]", `a[href^='javascript']`} {
		if eval[bool](soc, `document.querySelector("#advisory-body `+sel+`") !== null`) {
			t.Errorf("the advisory's body has %s", sel)
		}
	}
	if got := eval[string](soc, `document.querySelector('#advisory-body a[href^="https:"]').href`); got != "https://www.cisa.gov/kev" {
		t.Errorf("the advisory's link: %q", got)
	}
	if !eval[bool](soc, `document.getElementById("exercise-banner").hidden`) {
		t.Error("an EXERCISE banner on a real advisory's page")
	}
	soc.shot("advisory")

	// The card made two hours old says so, refreshed by the page itself.
	soc.do(`location.hash = "#/board"`)
	soc.wait(`document.querySelector('#board-list .card[data-id="` + drill + `"]')`)
	soc.do(`document.querySelector('#board-list .card[data-id="` + drill + `"] time[data-rel]').setAttribute("datetime", new Date(Date.now() - 7200e3).toISOString())`)
	soc.pollWithin(45*time.Second, `document.querySelector('#board-list .card[data-id="`+drill+`"] time[data-rel]').textContent === "2 h ago"`, time.Second)
}
