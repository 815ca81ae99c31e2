package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestAffectedMatchesAnAdvisoryOffline(t *testing.T) {
	doc := "../../../../shared/csaf/cisa-icsma/icsma-17-009-01a.json"
	if _, err := os.Stat(doc); err != nil {
		t.Skip("../shared/csaf is not beside the checkout")
	}
	inv := "../../../affected/testdata/devices.csv"
	var out, errOut bytes.Buffer
	if code := Main([]string{"affected", "--inventory", inv, doc}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"2 affected rows", "known_affected", "Cardiology clinic room 4", "CVE-2017-5149", "why possibly:", "what to do:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := Main([]string{"affected", "--json", "--inventory", inv, doc}, &out, &errOut); code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut.String())
	}
	var got []advisoryFindings
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || len(got[0].Findings) != 2 || got[0].Findings[0].Row.Serial != "SJM-0001" {
		t.Fatalf("--json: %v %s", err, out.String())
	}
	if code := Main([]string{"affected", doc}, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), "--inventory FILE is required") {
		t.Errorf("without --inventory: exit %d: %s", code, errOut.String())
	}
}
