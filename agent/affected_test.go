package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tocsin-project/tocsin/affected"
	"github.com/tocsin-project/tocsin/agent/socfmt"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/csaf"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// The test inventory: values found nowhere else, so that one appearing in
// what the agent sends can only have come from the inventory.
const (
	invVendor   = "Zyxorbian Medical"
	invProduct  = "Qwelltron Infusion Pump"
	invVersion  = "7.319.4407"
	invLocation = "Ward Kestrel-9 bay 41"
	invOwner    = "biomed-quillon@st-mary.example"
	invSerial   = "ZQ-88412-XK"
	invCPE      = "cpe:2.3:h:zyxorbian:qwelltron_infusion_pump:7.319.4407:*:*:*:*:*:*:*"
	invPURL     = "pkg:generic/zyxorbian/qwelltron@7.319.4407"
)

// otherDevice is a second row that no advisory of the tests names.
var otherDevice = []string{"Brastomere Labs", "Ondraxis Analyzer", "3.880.2651", "Lab Tharn-3 shelf 7", "lab-vexmoor@st-mary.example", "BL-55109-QT",
	"cpe:2.3:h:brastomere:ondraxis:3.880.2651:*:*:*:*:*:*:*", "pkg:generic/brastomere/ondraxis@3.880.2651"}

// inventoryValues are every value of the test inventory.
func inventoryValues() []string {
	return append([]string{invVendor, invProduct, invVersion, invLocation, invOwner, invSerial, invCPE, invPURL}, otherDevice...)
}

// writeInventory writes the test inventory CSV to dir.
func writeInventory(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "devices.csv")
	rows := "vendor,product,version,location,owner,serial,cpe,purl\n" +
		strings.Join([]string{invVendor, invProduct, invVersion, invLocation, invOwner, invSerial, invCPE, invPURL}, ",") + "\n" +
		strings.Join(otherDevice, ",") + "\n"
	if err := os.WriteFile(path, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// csafDoc is a valid CSAF 2.0 security advisory: vendor's product at
// version affected (CVSS 9.8, a vendor fix) and at 99.0 fixed.
func csafDoc(t testing.TB, id, vendor, product, version string) []byte {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	doc := map[string]any{
		"document": map[string]any{
			"category": "csaf_security_advisory", "csaf_version": "2.0", "lang": "en-US",
			"title":        product + " remote code execution",
			"distribution": map[string]any{"tlp": map[string]any{"label": "WHITE", "url": "https://www.first.org/tlp/"}},
			"publisher":    map[string]any{"category": "coordinator", "name": "HHS liaison (test)", "namespace": "https://hhs.example"},
			"notes":        []any{map[string]any{"category": "summary", "text": "A flaw lets an attacker on the network run code.", "title": "Summary"}},
			"references":   []any{map[string]any{"category": "self", "summary": "this advisory", "url": "https://hhs.example/" + id}},
			"tracking": map[string]any{"id": id, "status": "final", "version": "1", "initial_release_date": now, "current_release_date": now,
				"revision_history": []any{map[string]any{"date": now, "number": "1", "summary": "Initial"}}},
		},
		"product_tree": map[string]any{"branches": []any{map[string]any{"category": "vendor", "name": vendor, "branches": []any{
			map[string]any{"category": "product_name", "name": product, "branches": []any{
				map[string]any{"category": "product_version", "name": version, "product": map[string]any{"product_id": "CSAFPID-0001", "name": vendor + " " + product + " " + version}},
				map[string]any{"category": "product_version", "name": "99.0", "product": map[string]any{"product_id": "CSAFPID-0002", "name": vendor + " " + product + " 99.0"}},
			}}}}}},
		"vulnerabilities": []any{map[string]any{
			"cve":            "CVE-2026-0001",
			"notes":          []any{map[string]any{"category": "description", "text": "Remote code execution.", "title": "Description"}},
			"product_status": map[string]any{"known_affected": []any{"CSAFPID-0001"}, "fixed": []any{"CSAFPID-0002"}},
			"remediations":   []any{map[string]any{"category": "vendor_fix", "details": "Update to 99.0.", "product_ids": []any{"CSAFPID-0001"}}},
			"scores": []any{map[string]any{"products": []any{"CSAFPID-0001"}, "cvss_v3": map[string]any{"version": "3.1",
				"vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8, "baseSeverity": "CRITICAL"}}},
		}},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTheTestAdvisoryIsValidCSAF: the advisory the agent tests send passes
// the schema and every mandatory test, so the router routes it.
func TestTheTestAdvisoryIsValidCSAF(t *testing.T) {
	rep, err := csaf.Validate(csafDoc(t, "HHS-TEST-1", invVendor, invProduct, invVersion))
	if err != nil {
		t.Skipf("csaf: %v", err)
	}
	if !rep.Valid() {
		t.Fatalf("the test advisory fails %v: %v", rep.Failed(), rep.Problems)
	}
}

// TestABadInventoryIsAClearError: an inventory that does not read stops
// the agent before it starts, naming the file and the fault; the alias
// file and --report-affected need an inventory.
func TestABadInventoryIsAClearError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	_ = os.WriteFile(bad, []byte("maker,model\nX,Y\n"), 0o600)
	creds := writeTestCreds(t, dir)
	base := Options{CredsFile: creds, Servers: "nats://127.0.0.1:1", StateDir: filepath.Join(dir, "state"), Sinks: []Sink{discard{}}}
	cases := []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Inventory = []string{bad} }, `bad.csv: the header has no "vendor" column`},
		{func(o *Options) { o.Inventory = []string{filepath.Join(dir, "missing.csv")} }, "missing.csv"},
		{func(o *Options) { o.Inventory = []string{writeInventory(t, dir)}; o.Aliases = bad }, "aliases"},
		{func(o *Options) { o.Aliases = bad }, "give the inventory too"},
		{func(o *Options) { o.ReportAffected = true }, "give the inventory too"},
	}
	for _, c := range cases {
		o := base
		c.edit(&o)
		a, err := New(o, nil)
		if err == nil {
			a.release()
			t.Errorf("%+v: no error, want %q", o, c.want)
			continue
		}
		if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want ErrOptions saying %q", err, c.want)
		}
	}
	cfg, err := ParseConfig("agent.yaml", []byte("inventory: [a.csv, b.cdx.json]\naliases: al.yaml\nreport_affected: true\nstate: s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o, err := cfg.Options(zap.NewNop()); err != nil || len(o.Inventory) != 2 || o.Aliases != "al.yaml" || !o.ReportAffected {
		t.Errorf("the config's inventory keys: %+v, %v", o, err)
	}
}

// discard is a sink that keeps nothing.
type discard struct{}

func (discard) Name() string                           { return "discard" }
func (discard) Write(context.Context, []*Record) error { return nil }
func (discard) Close() error                           { return nil }

// writeTestCreds writes a member's .creds file into dir.
func writeTestCreds(t *testing.T, dir string) string {
	t.Helper()
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	creds, _, err := a.IssueMember(member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bridge.creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTheInventoryIsReadAgainWhenItChanges: a changed file is read again
// within a poll; a change that does not read keeps the last good inventory
// in use and logs why; the alias file is watched with it.
func TestTheInventoryIsReadAgainWhenItChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "devices.csv")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	aliases := filepath.Join(dir, "aliases.yaml")
	_ = os.WriteFile(aliases, []byte("[]\n"), 0o600)
	write("vendor,product,version,location,owner\nBrastomere Labs,Ondraxis Analyzer,1.0,Lab,me\n")
	core, logs := observer.New(zap.InfoLevel)
	inv, err := openInventory([]string{path}, aliases, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	doc := csafDoc(t, "HHS-TEST-2", invVendor, invProduct, invVersion)
	matches := func() int {
		fs, err := inv.match(doc)
		if err != nil {
			t.Fatal(err)
		}
		return len(fs)
	}
	if n := matches(); n != 0 {
		t.Fatalf("%d findings before the device is in the inventory", n)
	}
	ctx := t.Context()
	go inv.watch(ctx, 20*time.Millisecond)

	write("vendor,product,version,location,owner\n" + invVendor + "," + invProduct + "," + invVersion + ",Ward,me\n")
	testwait.For(t, 10*time.Second, "the changed inventory in use", testwait.True(func() bool { return matches() == 1 }))

	write("vendor,product\n\"unterminated\n")
	testwait.For(t, 10*time.Second, "the bad re-read logged", testwait.True(func() bool {
		return logs.FilterMessageSnippet("cannot be read").Len() == 1
	}))
	if n := matches(); n != 1 {
		t.Fatalf("after a bad re-read %d findings; the last good inventory must stay in use", n)
	}
	if st := inv.state.Load(); st.Rows != 1 || !strings.Contains(st.Error, "devices.csv") {
		t.Errorf("the state after a bad re-read: %+v; want the last good one's rows and the reason", st)
	}
	if e := logs.FilterMessageSnippet("cannot be read").All()[0]; !strings.Contains(fmt.Sprint(e.ContextMap()["error"]), "devices.csv") {
		t.Errorf("the log does not say which file: %v", e.ContextMap())
	}

	// The alias file changes: the member's device, relabelled, matches.
	write("vendor,product,version,location,owner\nRelabel Co,Pump R," + invVersion + ",Ward,me\n")
	testwait.For(t, 10*time.Second, "the relabelled inventory in use", testwait.True(func() bool { return matches() == 0 }))
	if st := inv.state.Load(); st.Error != "" {
		t.Errorf("a good re-read leaves the error %q", st.Error)
	}
	_ = os.WriteFile(aliases, []byte("- vendor: Relabel Co\n  as_vendor: "+invVendor+"\n  as_product: "+invProduct+"\n"), 0o600)
	testwait.For(t, 10*time.Second, "the alias file read again", testwait.True(func() bool { return matches() == 1 }))
}

// TestAMatchIsInEverySOCFormat: a CSAF advisory that matched is one lane
// more urgent in the syslog header, CEF and LEEF (routine: 3, 8, high) and
// names the rows for the member's own SIEM; one that matched nothing keeps
// its lane's severity and says affected 0.
func TestAMatchIsInEverySOCFormat(t *testing.T) {
	r := rec("csaf")
	r.Kind, r.Lane, r.Severity = KindCSAFAdvisory, "routine", "medium"
	r.setAffected([]affected.Finding{{Row: affected.Row{Vendor: invVendor, Product: invProduct, Version: invVersion, Location: invLocation, Owner: invOwner, Source: "devices.csv:2"},
		ProductID: "CSAFPID-0001", Product: invVendor + " " + invProduct, Status: affected.KnownAffected, Score: 9.8, Severity: "CRITICAL"}})
	if r.Severity != "high" {
		t.Fatalf("a matched routine CSAF advisory has severity %q, want high", r.Severity)
	}
	none := rec("none")
	none.Kind, none.Lane, none.Severity = KindCSAFAdvisory, "routine", "medium"
	none.setAffected(nil)
	if none.Severity != "medium" || none.Affected == nil {
		t.Fatalf("matched nothing: severity %q, affected %v", none.Severity, none.Affected)
	}
	line, _ := none.line()
	if !strings.Contains(string(line), `"affected":[]`) {
		t.Errorf("a record that matched nothing says so: %s", line)
	}
	for _, c := range []struct {
		r               *Record
		syslog, cef     int
		count, contains string
	}{{r, 3, 8, "1", "known_affected: " + invVendor + " " + invProduct + " " + invVersion + " at " + invLocation + " (" + invOwner + "), advisory product CSAFPID-0001"},
		{none, 4, 5, "0", ""}} {
		for _, format := range []string{"cef", "leef"} {
			m, fields := socEvent(t, c.r, format)
			if m.Severity != c.syslog {
				t.Errorf("%s %s: syslog severity %d, want %d", c.r.ID, format, m.Severity, c.syslog)
			}
			var sev int
			count := "cn2"
			if format == "cef" {
				e, _ := socfmt.ParseCEF(m.Msg)
				sev = e.Severity
				if l, _ := socfmt.Get(fields, "cn2Label"); l != "affected" {
					t.Errorf("cn2Label %q", l)
				}
			} else {
				count = "affected"
				v, _ := socfmt.Get(fields, "sev")
				fmt.Sscan(v, &sev)
			}
			if sev != c.cef {
				t.Errorf("%s %s: sev %d, want %d", c.r.ID, format, sev, c.cef)
			}
			if got, _ := socfmt.Get(fields, count); got != c.count {
				t.Errorf("%s %s: %s = %q, want %q", c.r.ID, format, count, got, c.count)
			}
			if got, _ := socfmt.Get(fields, "affectedAssets"); got != c.contains {
				t.Errorf("%s %s: affectedAssets %q, want %q", c.r.ID, format, got, c.contains)
			}
		}
	}
}

// TestWhichReceiptsSayAffected: with --report-affected, a CSAF advisory
// that matched owes a receipt saying affected; one that matched nothing, a
// plain advisory and an alert do not; without it none does. With receipts
// for advisories only, a CSAF advisory is an advisory and gets one.
func TestWhichReceiptsSayAffected(t *testing.T) {
	matched, empty, plain, al := rec("matched"), rec("empty"), rec("plain"), rec("alert")
	matched.Kind, empty.Kind, plain.Kind = KindCSAFAdvisory, KindCSAFAdvisory, KindAdvisory
	matched.setAffected([]affected.Finding{{ProductID: "CSAFPID-0001", Status: affected.PossiblyAffected, Reason: "no version"}})
	empty.setAffected(nil)
	all := []*Record{matched, empty, plain, al}
	for _, r := range all {
		r.receipted = true
	}
	for _, c := range []struct {
		receipts string
		report   bool
		want     []receiptDue
	}{
		{ReceiptsAll, true, []receiptDue{{"matched", true, ""}, {"empty", false, ""}, {"plain", false, ""}, {"alert", false, ""}}},
		{ReceiptsAll, false, []receiptDue{{"matched", false, ""}, {"empty", false, ""}, {"plain", false, ""}, {"alert", false, ""}}},
		{ReceiptsAdvisories, true, []receiptDue{{"matched", true, ""}, {"empty", false, ""}, {"plain", false, ""}}},
		{ReceiptsNone, true, nil},
	} {
		a := &Agent{opts: Options{Receipts: c.receipts, ReportAffected: c.report, Sinks: []Sink{discard{}}}, receipted: newSeen(16), recent: &recent{max: 10},
			quarantine: &quarantine{path: filepath.Join(t.TempDir(), "q.jsonl")}}
		got, err := (&reader{a: a}).write(t.Context(), all, nil)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("receipts %s, report %v: owed %v, want %v", c.receipts, c.report, got, c.want)
		}
	}
	// A copy routed in another region of a supercluster of stream sets:
	// its receipt names that region (ref_region), for that region's REACH.
	west := rec("west")
	west.receipted, west.Subject = true, subjects.InRegion("west", subjects.Sector("patient-care", "routine"))
	a := &Agent{opts: Options{Receipts: ReceiptsAll, Sinks: []Sink{discard{}}}, receipted: newSeen(16), recent: &recent{max: 10},
		quarantine: &quarantine{path: filepath.Join(t.TempDir(), "q.jsonl")}}
	got, err := (&reader{a: a}).write(t.Context(), []*Record{west}, nil)
	if err != nil || len(got) != 1 || got[0].region != "west" {
		t.Errorf("a copy on %s: owed %+v (%v), want its receipt for region west", west.Subject, got, err)
	}
}

// socEvent is r as the syslog sink sends it in format (cef or leef): the
// RFC 5424 message and the CEF extension or LEEF attributes, each parsed by
// the strict readers.
func socEvent(t *testing.T, r *Record, format string) (socfmt.Message, []socfmt.Field) {
	t.Helper()
	s, err := OpenSyslog(SyslogOptions{URL: "tcp://127.0.0.1:9?format=" + format, SpoolDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.message(r)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	m, err := socfmt.ParseMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	if format == "cef" {
		e, err := socfmt.ParseCEF(m.Msg)
		if err != nil {
			t.Fatal(err)
		}
		return m, e.Extension
	}
	e, err := socfmt.ParseLEEF(m.Msg)
	if err != nil {
		t.Fatal(err)
	}
	return m, e.Attributes
}

// TestWhoMayPublishACSFAdvisory: a vendor's CSAF advisory is recorded (and
// matched) like the liaison's; a vendor's advisory without a CSAF document,
// or under another publisher namespace than the directory registers for
// it, is refused; the document's TLP counts (an AMBER document in a CLEAR
// advisory is recorded amber).
func TestWhoMayPublishACSAFAdvisory(t *testing.T) {
	inv, err := openInventory([]string{writeInventory(t, t.TempDir())}, "", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c := &checker{me: "bridge", sectors: newSectorSet([]string{"patient-care"}), inv: inv, log: zap.NewNop()}
	d := destination{sector: "patient-care", lane: "routine"}
	vendor := &tocsinv1.Member{Id: "zyx-devices", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_VENDOR}}
	member := &tocsinv1.Member{Id: "st-mary", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	doc := csafDoc(t, "ZYX-1", invVendor, invProduct, invVersion) // namespace https://hhs.example
	adv := func(doc []byte) *tocsinv1.Advisory {
		return &tocsinv1.Advisory{Title: "t", Lane: tocsinv1.Lane_LANE_ROUTINE, Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_CLEAR, CsafDocument: doc}
	}
	r := &Record{}
	if err := c.checkAdvisory(d, vendor, adv(doc), r); err != nil || r.Kind != KindCSAFAdvisory || len(r.Affected) != 1 || r.TLP != "clear" {
		t.Fatalf("a vendor's CSAF advisory: %v, %+v", err, r)
	}
	for name, c2 := range map[string]struct {
		sender *tocsinv1.Member
		doc    []byte
	}{
		"a member's":              {member, doc},
		"a vendor's without CSAF": {vendor, nil},
		"another namespace":       {&tocsinv1.Member{Id: "zyx-devices", Roles: vendor.Roles, PublisherNamespace: "https://zyx.example"}, doc},
	} {
		var rf *refusal
		if err := c.checkAdvisory(d, c2.sender, adv(c2.doc), &Record{}); !errors.As(err, &rf) || rf.code != "not-permitted" {
			t.Errorf("%s advisory: %v, want a not-permitted refusal", name, err)
		}
	}
	own := &tocsinv1.Member{Id: "zyx-devices", Roles: vendor.Roles, PublisherNamespace: "https://hhs.example"}
	amber := []byte(strings.Replace(string(doc), `"label":"WHITE"`, `"label":"AMBER"`, 1))
	r = &Record{}
	if err := c.checkAdvisory(d, own, adv(amber), r); err != nil || r.TLP != "amber" {
		t.Errorf("an AMBER document in a CLEAR advisory: %v, tlp %q", err, r.TLP)
	}
}

// TestAMatchIsInTheJSONSinks: the JSONL line, the webhook's JSON body and
// the HEC event carry the record's affected rows and raised severity, and
// validate against the record's schema; a STIX-format webhook and the STIX
// folder have no bundle to send for a CSAF advisory.
func TestAMatchIsInTheJSONSinks(t *testing.T) {
	r := rec("csaf")
	r.Kind, r.Lane, r.STIX = KindCSAFAdvisory, "urgent", nil
	r.setAffected([]affected.Finding{{Row: affected.Row{Vendor: invVendor, Product: invProduct, Location: invLocation, Source: "devices.csv:2"},
		ProductID: "CSAFPID-0001", Product: invProduct, Status: affected.PossiblyAffected, Reason: "the inventory gives no version to compare with \"7.3\"",
		Remediations: []affected.Remediation{{Category: "vendor_fix", Details: "update", URL: "https://zyx.example/fix"}}, CVEs: []string{"CVE-2026-0001"}, Score: 9.8, Severity: "CRITICAL"}})
	line, err := r.line()
	if err != nil {
		t.Fatal(err)
	}
	hook, err := (&Webhook{opts: WebhookOptions{Format: "json"}}).body(r)
	if err != nil {
		t.Fatal(err)
	}
	hec, err := (&HEC{opts: HECOptions{Source: "tocsin", SourceType: "tocsin:record"}}).body(r)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(hec, &ev); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"jsonl": line, "webhook": hook, "hec": ev.Event} {
		checkRecordLine(t, body)
		var got Record
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Severity != "critical" || len(got.Affected) != 1 || got.Affected[0].Row.Location != invLocation || got.Affected[0].Reason == "" {
			t.Errorf("%s: severity %s, affected %+v", name, got.Severity, got.Affected)
		}
	}
	if b, err := (&Webhook{opts: WebhookOptions{Format: "stix"}}).body(r); err != nil || b != nil {
		t.Errorf("a stix webhook posts %q for a CSAF advisory", b)
	}
}

// TestAMatchReachesTheLaneItIsRaisedTo: an agent that writes only urgent
// and flash writes a routine CSAF advisory that matched (raised to urgent)
// and no other routine message; without an inventory it reads no routine
// copy at all.
func TestAMatchReachesTheLaneItIsRaisedTo(t *testing.T) {
	a := &Agent{lanes: map[string]bool{"urgent": true, "flash": true}, inv: &inventory{}}
	if !a.mayWant("routine") || a.mayWant("info") || !a.mayWant("flash") {
		t.Errorf("with an inventory: routine %v, info %v, flash %v; want true, false, true", a.mayWant("routine"), a.mayWant("info"), a.mayWant("flash"))
	}
	matched, none, al := rec("m"), rec("n"), rec("a")
	for _, r := range []*Record{matched, none, al} {
		r.setLane(tocsinv1.Lane_LANE_ROUTINE)
	}
	matched.setAffected([]affected.Finding{{ProductID: "CSAFPID-0001", Status: affected.KnownAffected}})
	none.setAffected(nil)
	if !a.wants(matched) || a.wants(none) || a.wants(al) {
		t.Errorf("routine records: matched %v, matched nothing %v, alert %v; want true, false, false", a.wants(matched), a.wants(none), a.wants(al))
	}
	if a.inv = nil; a.mayWant("routine") {
		t.Error("without an inventory a routine copy is read")
	}
}
