package alerts

import (
	"encoding/json"
	"testing"
)

// TestFirstAlertRecordIsEncodingJSON: the DEDUPE and SIGHTINGS records built
// by hand are byte for byte what encoding/json writes, also for strings it
// escapes, and read back the same.
func TestFirstAlertRecordIsEncodingJSON(t *testing.T) {
	for _, f := range []firstAlert{
		{AlertID: "01JD8ZQ4X3", Originator: "st-mary", PatternKey: "9f86d081884c7d65"},
		{AlertID: "01JD8ZQ4X3", Originator: "st-mary", PatternKey: "9f86d081884c7d65", Sectors: []string{"patient-care"}},
		{AlertID: "a", Originator: "b", PatternKey: "c", Sectors: []string{"patient-care", "public-health", "pharma"}},
		{},
		{Sectors: []string{}},
		{AlertID: `quote"`, Originator: "ok", PatternKey: "ok"},
		{AlertID: "ok", Originator: `back\slash`, PatternKey: "ok"},
		{AlertID: "ok", Originator: "<st-mary>", PatternKey: "ok"},
		{AlertID: "ok", Originator: "ok", PatternKey: "a&b"},
		{AlertID: "ok", Originator: "ok", PatternKey: "tab\there"},
		{AlertID: "ok", Originator: "ok", PatternKey: "ok", Sectors: []string{"fine", "é"}},
		{AlertID: "ok", Originator: "ok", PatternKey: "ok", Sectors: []string{"fine", "\x00"}},
		{AlertID: "ok", Originator: "ok", PatternKey: "ok", Sectors: []string{"\xff", "fine"}},
		{AlertID: "ok", Originator: "ok", PatternKey: "ok", Sectors: []string{"fine", "new\nline", "\x7f"}},
		{AlertID: "a", Originator: "b", PatternKey: "c", Sectors: []string{"patient-care"}, Indicator: "indicator--7d1b64d9-294c-54e2-9baa-ab83f406625e",
			Pattern: "[ipv4-addr:value = '198.51.100.23']", TLP: "amber+strict"},
		{AlertID: "a", Originator: "b", PatternKey: "c", Indicator: "indicator--x", Pattern: "[file:size > 100]"},
		{AlertID: "a", Originator: "b", PatternKey: "c", TLP: "green"},
	} {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got := f.marshal()
		if string(got) != string(want) {
			t.Errorf("%+v:\n got %s\nwant %s", f, got, want)
		}
		var back firstAlert
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%s does not read back: %v", got, err)
		}
	}
}
