package console_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/alerts/tlp"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/internal/cdp"
	"github.com/tocsin-project/tocsin/web/internal/webtest"
)

// artifacts is where screenshots go: $TOCSIN_ARTIFACTS, else web/artifacts
// (git-ignored).
func artifacts(t *testing.T) string {
	dir := os.Getenv("TOCSIN_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserPage is a page of the test browser with the test's helpers.
type browserPage struct {
	t    *testing.T
	ctx  context.Context
	p    *cdp.Page
	dir  string
	name string
}

func (b *browserPage) wait(cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := b.p.WaitFor(ctx, cond); err != nil {
		b.shot("failed")
		b.t.Fatalf("%s: %v", b.name, err)
	}
}

func (b *browserPage) do(expr string) {
	b.t.Helper()
	if err := b.p.Eval(b.ctx, expr, nil); err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, expr, err)
	}
}

func (b *browserPage) text(expr string) string {
	b.t.Helper()
	var s string
	if err := b.p.Eval(b.ctx, expr, &s); err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, expr, err)
	}
	return s
}

func (b *browserPage) key(keys ...string) {
	b.t.Helper()
	for _, k := range keys {
		if err := b.p.Key(b.ctx, k); err != nil {
			b.t.Fatal(err)
		}
	}
}

func (b *browserPage) typeText(s string) {
	b.t.Helper()
	if err := b.p.Type(b.ctx, s); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browserPage) shot(name string) {
	b.t.Helper()
	path := filepath.Join(b.dir, b.name+"-"+name+".png")
	if err := b.p.Screenshot(b.ctx, path); err != nil {
		b.t.Errorf("screenshot %s: %v", path, err)
	}
}

// press focuses the element selector matches and presses Enter: what a
// keyboard user does after tabbing to it.
func (b *browserPage) press(selector string) {
	b.t.Helper()
	b.wait(fmt.Sprintf("document.querySelector(%q)", selector))
	b.do(fmt.Sprintf("document.querySelector(%q).focus()", selector))
	b.wait(fmt.Sprintf("document.activeElement === document.querySelector(%q)", selector))
	b.key("Enter")
}

// login logs member in through the form, by keyboard.
func (b *browserPage) login(e *webtest.Env, member string) {
	b.t.Helper()
	if err := b.p.Navigate(b.ctx, e.URL+"/console/"); err != nil {
		b.t.Fatal(err)
	}
	b.wait(`document.activeElement && document.activeElement.id === "login-member"`)
	b.typeText(member)
	b.key("Tab")
	b.wait(`document.activeElement.id === "login-token"`)
	b.typeText(e.Tokens[member])
	b.shot("login")
	b.key("Enter")
	b.wait(`document.getElementById("board-list") && document.getElementById("who").textContent.includes(` + strconv.Quote(member) + `)`)
	b.wait(`document.getElementById("conn").textContent === "live"`)
}

func TestConsoleInChromium(t *testing.T) {
	if _, err := cdp.Find(); errors.Is(err, cdp.ErrNoBrowser) {
		t.Skip("browser tests skipped: chromium is not installed; run 'make chromium' (apt-get install -y chromium) or set CHROMIUM")
	}
	e := webtest.Start(t, webtest.Options{Aid: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	browser, err := cdp.Launch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(browser.Close)
	dir := artifacts(t)
	open := func(name string, w, h int, mobile bool) *browserPage {
		p, err := browser.NewPage(ctx, w, h, mobile)
		if err != nil {
			t.Fatal(err)
		}
		return &browserPage{t: t, ctx: ctx, p: p, dir: dir, name: name}
	}

	// An analyst at Riverside logs in on a laptop; the board is live.
	soc := open("riverside-laptop", 1280, 900, false)
	soc.login(e, "riverside")
	soc.shot("board-empty")
	alert := e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "Ransomware via vendor VPN: BlackHarbor C2", Lane: tocsinv1.Lane_LANE_FLASH,
		Sectors: []string{"patient-care", "health-it"}, Tlp: tocsinv1.TLP_TLP_AMBER, RecommendedAction: "Block the C2 addresses; disable the vendor VPN.",
		PatientSafetyImpact: "EHR down at St. Mary's: ambulances diverted.",
		StixBundle:          webtest.Bundle(webtest.Indicator("203.0.113.7", tlp.Amber), webtest.Indicator("203.0.113.8", tlp.Amber))})
	card := fmt.Sprintf(`.card[data-id=%q]`, alert.GetId())
	soc.wait(`document.querySelector(` + strconv.Quote(card) + `)`)
	if got := soc.text(`document.getElementById("announce").textContent || "pending"`); got == "" {
		t.Error("the new alert was not announced to screen readers")
	}
	soc.shot("board-live")

	// It opens the alert by keyboard: verified sender, TLP, objects.
	soc.press(card + " a")
	soc.wait(`document.querySelectorAll("#objects tr").length === 2 && document.getElementById("verified")`)
	if got := soc.text(`document.querySelector("main .tlp").textContent`); got != "TLP:AMBER" {
		t.Errorf("TLP badge %q", got)
	}
	if got := soc.text(`document.querySelector("h1").textContent`); got != "Ransomware via vendor VPN: BlackHarbor C2" {
		t.Errorf("alert title %q", got)
	}
	soc.shot("alert")

	// The liaison, on a phone, broadcasts an advisory and watches its reach.
	adv := e.Route("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "Block these indicators; patch the VPN appliance",
		Body: "CVE in the vendor VPN appliance is exploited.", Lane: tocsinv1.Lane_LANE_URGENT, Tlp: tocsinv1.TLP_TLP_GREEN})
	liaison := open("liaison-phone", 390, 844, true)
	liaison.login(e, "hhs-liaison")
	liaison.do(`location.hash = "#/message/` + adv.GetId() + `"`)
	group := `document.querySelector('#reach [data-sector="patient-care"]')`
	liaison.wait(group + ` && ` + group + `.querySelector(".reach-counts").textContent.includes("0 acknowledged")`)
	if got := liaison.text(group + `.querySelector(".waiting").textContent`); got == "" {
		t.Fatal("no one waiting before the acknowledgement")
	}
	liaison.shot("reach-before")

	soc.do(`location.hash = "#/message/` + adv.GetId() + `"`)
	soc.press(`button[data-receipt="acknowledged"]`)
	soc.wait(`document.getElementById("receipt-status").textContent.startsWith("Sent")`)
	soc.shot("advisory-acknowledged")
	// The liaison's page changes by itself (a reach event).
	liaison.wait(group + `.querySelector(".reach-counts").textContent.includes("1 acknowledged") && !` + group + `.querySelector(".waiting").textContent.includes("riverside")`)
	liaison.shot("reach-after")
	var overflow bool
	if err := liaison.p.Eval(ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow); err != nil || overflow {
		t.Errorf("the phone page scrolls sideways (%v)", err)
	}

	// St. Mary's accepts an aid offer.
	req := e.Publish("st-mary", tocsinv1.Kind_KIND_AID_REQUEST, &tocsinv1.AidRequest{Needs: []*tocsinv1.AidNeed{{Capability: "incident-response", Quantity: 2}},
		Urgency: tocsinv1.Lane_LANE_FLASH, Region: "northeast", Tlp: tocsinv1.TLP_TLP_AMBER, Note: "Ransomware, EHR down", ExpiresAt: timestamppb.New(time.Now().Add(4 * time.Hour))})
	if o := e.Outcome("st-mary", req.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("aid request: %v", o)
	}
	offer := e.Publish("ir-firm", tocsinv1.Kind_KIND_AID_OFFER, &tocsinv1.AidOffer{RequestId: req.GetId(), Capability: "incident-response", Quantity: 2,
		Eta: durationpb.New(4 * time.Hour), Note: "two responders"})
	if o := e.Outcome("ir-firm", offer.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("aid offer: %v", o)
	}
	mary := open("st-mary-laptop", 1280, 900, false)
	mary.login(e, "st-mary")
	mary.do(`location.hash = "#/aid"`)
	mary.wait(`document.querySelector('tr[data-request="` + req.GetId() + `"]')`)
	mary.shot("aid-board")
	mary.do(`location.hash = "#/aid/` + req.GetId() + `"`)
	mary.wait(`document.querySelector('button[data-accept="` + offer.GetId() + `"]')`)
	mary.shot("aid-offer")
	mary.press(`button[data-accept="` + offer.GetId() + `"]`)
	mary.wait(`(document.querySelector('tr[data-offer="` + offer.GetId() + `"] .offer-state') || {}).textContent === "accepted"`)
	if got := mary.text(`document.getElementById("request-state").textContent`); got != "filled" {
		t.Errorf("request state after the accept: %q", got)
	}
	mary.shot("aid-accepted")

	// The regional board and the cluster's health.
	e.Publish("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DIVERTING,
		Systems: []string{"ehr", "pacs"}, Note: "Ambulances diverted to Lakeside and Valley General"})
	mary.do(`location.hash = "#/situation"`)
	webtest.Eventually(t, 30*time.Second, func() bool {
		var shown bool
		_ = mary.p.Eval(ctx, `!!document.querySelector("td.state-diverting")`, &shown)
		if !shown {
			mary.do(`showSituation("northeast")`)
			time.Sleep(200 * time.Millisecond)
		}
		return shown
	}, "the northeast board to show St. Mary's diverting")
	mary.shot("situation")
	mary.do(`location.hash = "#/health"`)
	mary.wait(`[...document.querySelectorAll("h2")].some((h) => h.textContent === "Nodes")`)
	mary.shot("health")
	liaison.do(`location.hash = "#/board"`)
	liaison.wait(`document.querySelectorAll("#board-list .card").length >= 1`)
	liaison.shot("board")
	t.Logf("screenshots in %s", dir)
}
