package console_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// artifacts is where screenshots go: the test's artifact directory when
// go test runs with -artifacts, else $TOCSIN_ARTIFACTS/browser, else
// web/artifacts/browser (git-ignored).
func artifacts(t *testing.T) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
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

// chromium returns the Chromium to run: $CHROMIUM, else chromium,
// chromium-browser or google-chrome on PATH. It skips the test when there
// is none.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser tests skipped: chromium is not installed; run 'make chromium' (apt-get install -y chromium) or set CHROMIUM")
	return ""
}

// chromiumOptions start bin headless and keep it off the network.
// chromedp adds --remote-debugging-pipe and a fresh --user-data-dir, which
// it removes when Chromium exits.
func chromiumOptions(bin string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,                // with --hide-scrollbars and --mute-audio
		chromedp.Flag("headless", "new"), // what --headless means since Chromium 132; older ones need the value
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	}
}

// browserPage is a tab of the test browser with the test's helpers.
type browserPage struct {
	t    *testing.T
	ctx  context.Context // the tab's chromedp context
	dir  string
	name string
}

// run runs the actions in the tab, for up to 30 seconds; when one fails it
// saves a screenshot and ends the test.
func (b *browserPage) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.runWithin(30*time.Second, what, actions...)
}

// runWithin is run for up to d.
func (b *browserPage) runWithin(d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed")
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

// poll evaluates the JavaScript condition every interval until it is true
// (a promise counts by its value), for up to 30 seconds. A condition that
// throws, as one does on an element not rendered yet, counts as false.
func (b *browserPage) poll(cond string, every time.Duration) {
	b.t.Helper()
	b.pollWithin(30*time.Second, cond, every)
}

// pollWithin is poll for up to d.
func (b *browserPage) pollWithin(d time.Duration, cond string, every time.Duration) {
	b.t.Helper()
	b.runWithin(d, "waiting for "+cond, chromedp.PollFunction[chromedp.Void](
		`async () => { try { return !!(await (`+cond+`)); } catch { return false; } }`, chromedp.WithPollingInterval(every)))
}

// wait polls the JavaScript condition until it is true.
func (b *browserPage) wait(cond string) {
	b.t.Helper()
	b.poll(cond, 50*time.Millisecond)
}

// visible waits for the element selector matches to be shown.
func (b *browserPage) visible(selector string) {
	b.t.Helper()
	b.run("waiting for "+selector, chromedp.WaitVisible(chromedp.CSS(selector)))
}

// do evaluates a JavaScript expression.
func (b *browserPage) do(expr string) {
	b.t.Helper()
	eval[chromedp.Void](b, expr)
}

// eval returns the value of a JavaScript expression (awaiting a promise).
func eval[T any](b *browserPage, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, expr, err)
	}
	return v
}

// key presses a key such as kb.Tab or kb.Enter.
func (b *browserPage) key(key string) {
	b.t.Helper()
	b.run("key", chromedp.KeyEvent(key))
}

// typeText inserts text at the focused element, as typing would.
func (b *browserPage) typeText(text string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
		b.t.Fatalf("%s: type: %v", b.name, err)
	}
}

// shot saves the whole page, beyond the viewport, as a PNG.
func (b *browserPage) shot(name string) {
	b.t.Helper()
	path := filepath.Join(b.dir, b.name+"-"+name+".png")
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", path, err)
	}
}

// press focuses the element selector matches and presses Enter: what a
// keyboard user does after tabbing to it.
func (b *browserPage) press(selector string) {
	b.t.Helper()
	b.run("focus "+selector, chromedp.Focus(chromedp.CSS(selector), chromedp.NodeVisible))
	b.wait(fmt.Sprintf("document.activeElement === document.querySelector(%q)", selector))
	b.key(kb.Enter)
}

// login logs member in through the form, by keyboard.
func (b *browserPage) login(e *webtest.Env, member string) {
	b.t.Helper()
	b.run("open the console", chromedp.Navigate(e.URL+"/console/"))
	b.wait(`document.activeElement && document.activeElement.id === "login-member"`)
	b.typeText(member)
	b.key(kb.Tab)
	b.wait(`document.activeElement.id === "login-token"`)
	b.typeText(e.Tokens[member])
	b.shot("login")
	b.key(kb.Enter)
	b.wait(`document.getElementById("board-list") && document.getElementById("who").textContent.includes(` + strconv.Quote(member) + `)`)
	b.wait(`document.getElementById("conn").textContent === "live"`)
}

// opener opens a tab of the given viewport (CSS pixels) in a browser
// context of its own (its own cookies: one user per page).
type opener func(name string, w, h int64, phone ...chromedp.EmulateViewportOption) *browserPage

// startBrowser starts Chromium (bin) for the test, for up to budget; it
// closes when the test ends.
func startBrowser(t *testing.T, bin string, budget time.Duration) opener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	t.Cleanup(cancel)
	alloc, stop := chromedp.NewExecAllocator(ctx, chromiumOptions(bin)...)
	t.Cleanup(stop)
	browser, _ := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		// Close Chromium; kill it if it has not exited after 3 seconds.
		ctx, cancel := context.WithTimeout(browser, 3*time.Second)
		defer cancel()
		_ = chromedp.Cancel(ctx)
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	dir := artifacts(t)
	t.Logf("screenshots in %s", dir)
	return func(name string, w, h int64, phone ...chromedp.EmulateViewportOption) *browserPage {
		tab, _ := chromedp.NewContext(browser, chromedp.WithNewBrowserContext()) // closes with the browser
		if err := chromedp.Do(tab, chromedp.EmulateViewport(w, h, phone...)); err != nil {
			t.Fatal(err)
		}
		return &browserPage{t: t, ctx: tab, dir: dir, name: name}
	}
}

func TestConsoleInChromium(t *testing.T) {
	bin := chromium(t)
	e := webtest.Start(t, webtest.Options{Aid: true})
	open := startBrowser(t, bin, 4*time.Minute)

	// An analyst at Riverside logs in on a laptop; the board is live.
	soc := open("riverside-laptop", 1280, 900)
	soc.login(e, "riverside")
	soc.shot("board-empty")
	alert := e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "Ransomware via vendor VPN: BlackHarbor C2", Lane: tocsinv1.Lane_LANE_FLASH,
		Sectors: []string{"patient-care", "health-it"}, Tlp: tocsinv1.TLP_TLP_AMBER, RecommendedAction: "Block the C2 addresses; disable the vendor VPN.",
		PatientSafetyImpact: "EHR down at St. Mary's: ambulances diverted.",
		StixBundle:          webtest.Bundle(webtest.Indicator("203.0.113.7", tlp.Amber), webtest.Indicator("203.0.113.8", tlp.Amber))})
	card := fmt.Sprintf(`.card[data-id=%q]`, alert.GetId())
	soc.visible(card)
	if got := eval[string](soc, `document.getElementById("announce").textContent || "pending"`); got == "" {
		t.Error("the new alert was not announced to screen readers")
	}
	soc.shot("board-live")

	// It opens the alert by keyboard: verified sender, TLP, objects.
	soc.press(card + " a")
	soc.wait(`document.querySelectorAll("#objects tr").length === 2 && document.getElementById("verified")`)
	if got := eval[string](soc, `document.querySelector("main .tlp").textContent`); got != "TLP:AMBER" {
		t.Errorf("TLP badge %q", got)
	}
	if got := eval[string](soc, `document.querySelector("h1").textContent`); got != "Ransomware via vendor VPN: BlackHarbor C2" {
		t.Errorf("alert title %q", got)
	}
	soc.shot("alert")

	// The liaison, on a phone, broadcasts an advisory and watches its reach.
	adv := e.Route("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "Block these indicators; patch the VPN appliance",
		Body: "CVE in the vendor VPN appliance is exploited.", Lane: tocsinv1.Lane_LANE_URGENT, Tlp: tocsinv1.TLP_TLP_GREEN})
	liaison := open("liaison-phone", 390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	liaison.login(e, "hhs-liaison")
	liaison.do(`location.hash = "#/message/` + adv.GetId() + `"`)
	group := `document.querySelector('#reach [data-sector="patient-care"]')`
	liaison.wait(group + ` && ` + group + `.querySelector(".reach-counts").textContent.includes("0 acknowledged")`)
	if got := eval[string](liaison, group+`.querySelector(".waiting").textContent`); got == "" {
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
	if eval[bool](liaison, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Error("the phone page scrolls sideways")
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
	mary := open("st-mary-laptop", 1280, 900)
	mary.login(e, "st-mary")
	mary.do(`location.hash = "#/aid"`)
	mary.visible(`tr[data-request="` + req.GetId() + `"]`)
	mary.shot("aid-board")
	mary.do(`location.hash = "#/aid/` + req.GetId() + `"`)
	mary.visible(`button[data-accept="` + offer.GetId() + `"]`)
	mary.shot("aid-offer")
	mary.press(`button[data-accept="` + offer.GetId() + `"]`)
	mary.wait(`(document.querySelector('tr[data-offer="` + offer.GetId() + `"] .offer-state') || {}).textContent === "accepted"`)
	if got := eval[string](mary, `document.getElementById("request-state").textContent`); got != "filled" {
		t.Errorf("request state after the accept: %q", got)
	}
	mary.shot("aid-accepted")

	// The regional board and the cluster's health.
	e.Publish("st-mary", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_DIVERTING,
		Systems: []string{"ehr", "pacs"}, Note: "Ambulances diverted to Lakeside and Valley General"})
	mary.do(`location.hash = "#/situation"`)
	// The northeast board shows St. Mary's diverting once the web index has
	// the report: ask for the board again until it does.
	mary.poll(`document.querySelector("td.state-diverting") || showSituation("northeast").then(() => false)`, 200*time.Millisecond)
	mary.shot("situation")
	mary.do(`location.hash = "#/health"`)
	mary.wait(`[...document.querySelectorAll("h2")].some((h) => h.textContent === "Nodes")`)
	mary.shot("health")
	liaison.do(`location.hash = "#/board"`)
	liaison.wait(`document.querySelectorAll("#board-list .card").length >= 1`)
	liaison.shot("board")
}
