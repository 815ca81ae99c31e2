package agent

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/examples"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// envelopeRecord is the record newRecord starts for a message of kind
// delivered on subject, with the times pull fills in.
func envelopeRecord(kind tocsinv1.Kind, subject string) *Record {
	at := time.Date(2026, 11, 24, 2, 14, 0, 0, time.UTC)
	r := newRecord(&tocsinv1.Envelope{Id: "01JDQ5K9X0ABCDEFGHJKMNPQRS", Kind: kind, Sender: "st-mary", KeyId: "UKEY", Time: timestamppb.New(at)},
		&tocsinv1.Member{Id: "st-mary", Name: "St. Mary's Regional"}, subject, 7)
	r.Routed, r.Received, r.Delivery = at.Add(time.Second), at.Add(2*time.Second), 1
	return r
}

// TestRecordOfTheScenarioAlert: St. Mary's flash alert as a SIEM reads it:
// versioned, severity from the lane, one indicator row per comparison with
// the OR's halves standalone, every field before the bundle, and a line
// that validates against the schema.
func TestRecordOfTheScenarioAlert(t *testing.T) {
	bundle, err := examples.FS.ReadFile("st-mary-ransomware.json")
	if err != nil {
		t.Fatal(err)
	}
	r := envelopeRecord(tocsinv1.Kind_KIND_ALERT, "tocsin.sector.patient-care.flash")
	r.fillAlert(&tocsinv1.Alert{Title: "BlackHarbor ransomware", Lane: tocsinv1.Lane_LANE_FLASH, Sectors: []string{"patient-care"},
		Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: bundle, Exercise: true})
	r.TLP = "amber"
	line, err := r.line()
	if err != nil {
		t.Fatal(err)
	}
	checkRecordLine(t, line)
	if r.SchemaVersion != 1 || r.Severity != "critical" || r.Kind != "alert" {
		t.Errorf("schema_version %d, severity %q, kind %q", r.SchemaVersion, r.Severity, r.Kind)
	}
	var got []string
	for _, i := range r.Indicators {
		got = append(got, i.Path+" "+i.Operator+" "+i.Value)
		if i.Compound || i.ValidFrom != "2026-11-24T02:14:00Z" || !strings.HasPrefix(i.STIXID, "indicator--") || i.PatternType != "stix" {
			t.Errorf("row %+v: want standalone, valid from 2026-11-24T02:14:00Z", i)
		}
	}
	want := "ipv4-addr:value = 198.51.100.23|ipv4-addr:value = 203.0.113.77|domain-name:value = update-vpn-support.example|file:hashes.'SHA-256' = 3f1d5b0e8a2c4d6f7b9e0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"
	if strings.Join(got, "|") != want {
		t.Errorf("indicator rows\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if i, j := bytes.Index(line, []byte(`"indicators"`)), bytes.Index(line, []byte(`"stix"`)); i < 0 || j < i {
		t.Errorf("the bundle comes before the flat fields:\n%.300s", line)
	}
}

// TestIndicatorRowsOfCompoundPatterns: a comparison ANDed, followed by, or
// under a qualifier is compound; an OR's halves are not; IN keeps its set
// and EXISTS no value; a pattern that is not STIX is one row.
func TestIndicatorRowsOfCompoundPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    string // path op value compound, per row
	}{
		{"[ipv4-addr:value = '198.51.100.7' AND network-traffic:dst_port = 443]",
			"ipv4-addr:value = 198.51.100.7 true|network-traffic:dst_port = 443 true"},
		{"[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']",
			"domain-name:value = a.example false|domain-name:value = b.example false"},
		{"[file:name = 'x.exe'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']",
			"file:name = x.exe true|ipv4-addr:value = 198.51.100.7 true"},
		{"[ipv4-addr:value = '198.51.100.7'] REPEATS 5 TIMES",
			"ipv4-addr:value = 198.51.100.7 true"},
		{"([ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'c2.example']) OR [url:value = 'https://x.example/']",
			"ipv4-addr:value = 198.51.100.7 true|domain-name:value = c2.example true|url:value = https://x.example/ false"},
		{"[ipv4-addr:value IN ('198.51.100.7', '198.51.100.8')]", "ipv4-addr:value IN 198.51.100.7,198.51.100.8 false"},
		{"[EXISTS windows-registry-key:values[*].name]", "windows-registry-key:values[*].name EXISTS  false"},
		{"[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "ipv4-addr:value ISSUBSET 198.51.100.0/24 false"},
	} {
		rows := patternIndicators("indicator--6f1a3c0e-2d4b-4e8f-9a1c-3b5d7e9f1a2c", "", "stix", c.pattern, "", "")
		var got []string
		for _, r := range rows {
			v := r.Value
			if r.Values != nil {
				v = strings.Join(r.Values, ",")
			}
			got = append(got, strings.Join([]string{r.Path, r.Operator, v, map[bool]string{true: "true", false: "false"}[r.Compound]}, " "))
		}
		if strings.Join(got, "|") != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.pattern, strings.Join(got, "|"), c.want)
		}
	}
	rows := patternIndicators("indicator--6f1a3c0e-2d4b-4e8f-9a1c-3b5d7e9f1a2c", "LockBit rule", "sigma", "title: x", "2026-11-24T03:14:00+01:00", "")
	if len(rows) != 1 || rows[0].Path != "" || rows[0].Pattern != "title: x" || rows[0].ValidFrom != "2026-11-24T02:14:00Z" {
		t.Errorf("a sigma indicator: %+v", rows)
	}
}

// TestRecordKindsOfEveryMessage: amendments, revocations, advisories,
// sighting summaries and aid messages each validate, with their kind, and
// aid records are snake_case with seconds and lower-case actions, never
// protobuf JSON.
func TestRecordKindsOfEveryMessage(t *testing.T) {
	amend := envelopeRecord(tocsinv1.Kind_KIND_ALERT, "tocsin.sector.patient-care.flash")
	amend.fillAlert(&tocsinv1.Alert{Title: "corrected", Lane: tocsinv1.Lane_LANE_URGENT, Tlp: tocsinv1.TLP_TLP_GREEN, Amends: "01JDQ5K9X0ABCDEFGHJKMNPQR0"})
	revoke := envelopeRecord(tocsinv1.Kind_KIND_ALERT, "tocsin.sector.patient-care.flash")
	revoke.fillAlert(&tocsinv1.Alert{Lane: tocsinv1.Lane_LANE_FLASH, Tlp: tocsinv1.TLP_TLP_GREEN, Amends: "01JDQ5K9X0ABCDEFGHJKMNPQR0", Revoked: true, Reason: "false positive"})
	adv := envelopeRecord(tocsinv1.Kind_KIND_ADVISORY, "tocsin.sector.patient-care.routine")
	adv.fillAdvisory(&tocsinv1.Advisory{Title: "HHS", Body: "# patch", Lane: tocsinv1.Lane_LANE_ROUTINE, Tlp: tocsinv1.TLP_TLP_CLEAR})
	sum := envelopeRecord(tocsinv1.Kind_KIND_SIGHTING_SUMMARY, "tocsin.sector.patient-care.info")
	sum.fillSummary(&tocsinv1.SightingSummary{IndicatorId: "indicator--6f1a3c0e-2d4b-4e8f-9a1c-3b5d7e9f1a2c", AlertId: "01JDQ5K9X0ABCDEFGHJKMNPQR0",
		Sector: "patient-care", Organisations: 3, Pattern: "[ipv4-addr:value = '198.51.100.23']", Tlp: tocsinv1.TLP_TLP_GREEN}, "info", nil)
	// Below the floor: no number and no name, even from a router that sent them.
	few := envelopeRecord(tocsinv1.Kind_KIND_SIGHTING_SUMMARY, "tocsin.sector.patient-care.info")
	few.fillSummary(&tocsinv1.SightingSummary{AlertId: "01JDQ5K9X0ABCDEFGHJKMNPQR0", Sector: "patient-care", Organisations: 2, Named: []string{"riverside"},
		Tlp: tocsinv1.TLP_TLP_GREEN}, "info", nil)
	req := envelopeRecord(tocsinv1.Kind_KIND_AID_REQUEST, "tocsin.inbox.ir-firm")
	req.fillAid(&tocsinv1.AidRequest{Needs: []*tocsinv1.AidNeed{{Capability: "incident-response", Quantity: 2}}, Urgency: tocsinv1.Lane_LANE_FLASH,
		Region: "north", Tlp: tocsinv1.TLP_TLP_AMBER, ExpiresAt: timestamppb.New(time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC))}, nil)
	offer := envelopeRecord(tocsinv1.Kind_KIND_AID_OFFER, "tocsin.inbox.st-mary")
	offer.fillAid(&tocsinv1.AidOffer{RequestId: "01JDQ5K9X0ABCDEFGHJKMNPQR0", Capability: "incident-response", Quantity: 2, Eta: durationpb.New(4 * time.Hour)}, nil)
	dec := envelopeRecord(tocsinv1.Kind_KIND_AID_DECISION, "tocsin.inbox.st-mary")
	dec.fillAid(&tocsinv1.AidDecision{RequestId: "01JDQ5K9X0ABCDEFGHJKMNPQR0", OfferId: "01JDQ5K9X0ABCDEFGHJKMNPQR1", Action: tocsinv1.AidAction_AID_ACTION_MOBILISE}, nil)
	amend.TLP, revoke.TLP, adv.TLP = "green", "green", "clear" // the checker's effective TLP
	for _, c := range []struct {
		r    *Record
		kind string
		has  []string
	}{
		{amend, "amendment", []string{`"amends":"01JDQ5K9X0ABCDEFGHJKMNPQR0"`, `"severity":"high"`}},
		{revoke, "revocation", []string{`"revoked":true`}},
		{adv, "advisory", []string{`"severity":"medium"`, `"tlp":"clear"`}},
		{sum, "sighting-summary", []string{`"organisations":3`, `"path":"ipv4-addr:value"`, `"severity":"low"`}},
		{few, "sighting-summary", []string{`"organisations":0`, `"fewer_than":3`, `"named":[]`}},
		{req, "aid", []string{`"type":"request"`, `"request_id":"01JDQ5K9X0ABCDEFGHJKMNPQRS"`, `"expires_at":"2026-11-25T02:00:00Z"`, `"lane":"flash"`}},
		{offer, "aid", []string{`"eta_seconds":14400`, `"action":"offer"`}},
		{dec, "aid", []string{`"action":"mobilise"`, `"offer_id":"01JDQ5K9X0ABCDEFGHJKMNPQR1"`, `"tlp":"amber"`}},
	} {
		line, err := c.r.line()
		if err != nil {
			t.Fatal(err)
		}
		checkRecordLine(t, line)
		if c.r.Kind != c.kind {
			t.Errorf("kind %q, want %q", c.r.Kind, c.kind)
		}
		for _, h := range c.has {
			if !bytes.Contains(line, []byte(h)) {
				t.Errorf("%s record lacks %s:\n%s", c.kind, h, line)
			}
		}
		for _, bad := range []string{"requestId", `"14400s"`, "AID_ACTION", "LANE_", "TLP_", `"payload"`} {
			if bytes.Contains(line, []byte(bad)) {
				t.Errorf("%s record holds protobuf JSON %s:\n%s", c.kind, bad, line)
			}
		}
		var back map[string]any
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatal(err)
		}
	}
}
