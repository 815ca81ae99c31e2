package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// icsma reads a CISA ICSMA advisory as published, with its TLP label set
// to label (the advisories are all WHITE) and edit applied to it.
func icsma(t *testing.T, dir, name, label string, edit func(v map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "csaf", "cisa-icsma", name+".json"))
	if err != nil {
		t.Skipf("CISA's ICSMA advisories are not here: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	doc := v["document"].(map[string]any)
	doc["distribution"].(map[string]any)["tlp"].(map[string]any)["label"] = label
	if edit != nil {
		edit(v)
	}
	if data, err = json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.json", name, label, len(data)))
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// A CISA ICSMA advisory (one that fails 6.1.31 on "vers:all/*", which
// routes as a warning) is sent as a CSAF advisory by both commands, with
// the document's TLP, and reaches a member's JSONL file as csaf-advisory;
// a schema failure is refused with its test id (exit 2); a --tlp weaker
// than the document's is refused before anything is sent (exit 1).
func TestCSAFPublish(t *testing.T) {
	d := startDevCluster(t)
	dir := t.TempDir()
	creds := func(id string) string { return filepath.Join(d.data, "creds", id+".creds") }
	jsonl, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	d.runAgent(creds("riverside"), filepath.Join(dir, "state"), jsonl)

	amber := icsma(t, dir, "icsma-17-017-01", "AMBER", nil)
	var res publishResult
	decodeOut(t, d.must("advisory", "publish", "--creds", creds("hhs-liaison"), "--file", amber, "--sectors", "patient-care", "--wait", "--json"), &res)
	if res.Outcome != "routed" || res.TLP != "amber" || len(res.Sectors) != 1 {
		t.Fatalf("advisory publish of an AMBER CSAF document: %+v", res)
	}
	var white publishResult
	decodeOut(t, d.must("csaf", "publish", "--creds", creds("hhs-liaison"), "--file", icsma(t, dir, "icsma-17-017-01", "WHITE", nil), "--wait", "--json"), &white)
	if white.Outcome != "routed" || white.TLP != "clear" || len(white.Sectors) != 9 {
		t.Fatalf("csaf publish of a WHITE CSAF document: %+v", white)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testwait.Until(ctx, t, "both CSAF advisories in riverside's JSONL file", func() error {
		f, err := os.Open(filepath.Join(dir, "alerts.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		want := map[string]string{res.ID: "amber", white.ID: "clear"}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r struct{ ID, Kind, TLP, Title string }
			if json.Unmarshal(sc.Bytes(), &r) != nil || want[r.ID] == "" {
				continue
			}
			if r.Kind != agent.KindCSAFAdvisory || r.TLP != want[r.ID] || !strings.HasPrefix(r.Title, "ICSMA-17-017-01_BD Alaris") {
				return fmt.Errorf("the record of %s: kind %q tlp %q title %q, want csaf-advisory %s", r.ID, r.Kind, r.TLP, r.Title, want[r.ID])
			}
			delete(want, r.ID)
		}
		if len(want) > 0 {
			return errors.New("not yet")
		}
		return nil
	})

	for _, tc := range []struct {
		name, want string
		edit       func(v map[string]any)
	}{
		{"without a publisher", "schema: csaf schema:", func(v map[string]any) { delete(v["document"].(map[string]any), "publisher") }},
		{"naming an undefined product", "invalid-field: csaf 6.1.1:", func(v map[string]any) {
			st := v["vulnerabilities"].([]any)[0].(map[string]any)["product_status"].(map[string]any)
			st["known_affected"] = append(st["known_affected"].([]any), "CSAFPID-NO-SUCH-PRODUCT")
		}},
	} {
		code, out, errOut := d.cli("advisory", "publish", "--creds", creds("hhs-liaison"), "--file", icsma(t, dir, "icsma-17-009-01a", "GREEN", tc.edit), "--wait")
		if code != ExitRejected || !strings.Contains(out, tc.want) {
			t.Errorf("a CSAF document %s: exit %d, want %d and %q\n%s%s", tc.name, code, ExitRejected, tc.want, out, errOut)
		}
		t.Logf("%s:\n%s", tc.name, out)
	}
	if code, out, errOut := d.cli("csaf", "publish", "--creds", creds("hhs-liaison"), "--file", amber, "--tlp", "green", "--sectors", "patient-care"); code != ExitUsage || !strings.Contains(errOut, "less restrictive") {
		t.Errorf("--tlp green on an AMBER document: exit %d, want %d\n%s%s", code, ExitUsage, out, errOut)
	}
}

// The flags of a CSAF advisory: the document's TLP unless --tlp is more
// restrictive; --tlp required when the document has none; a STIX bundle
// stays a bundle.
func TestCSAFAdvisoryFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	green := write("green.json", `{"document":{"csaf_version":"2.0","title":"Pump","distribution":{"tlp":{"label":"GREEN"}},"notes":[{"category":"summary","text":"patch"}]}}`)
	none := write("none.json", `{"document":{"csaf_version":"2.0","title":"Pump"}}`)
	bundle := write("bundle.json", `{"type":"bundle","id":"bundle--9f1e3a6b-7c8d-4e0f-9a1b-4c5d6e7f8091","objects":[]}`)
	for _, tc := range []struct {
		file, tlp, sectors, want, err string
	}{
		{green, "", "", "TLP_GREEN", ""},
		{green, "amber", "patient-care", "TLP_AMBER", ""},
		{green, "clear", "", "", "less restrictive"},
		{none, "", "", "", "--tlp is required"},
		{none, "green", "", "TLP_GREEN", ""},
	} {
		f := advisoryFlags{file: tc.file, tlp: tc.tlp, lane: "urgent"}
		if tc.sectors != "" {
			f.sectors = []string{tc.sectors}
		}
		a, err := f.build()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s --tlp %q: %v, want %q", filepath.Base(tc.file), tc.tlp, err, tc.err)
			}
			continue
		}
		if err != nil || a.GetTlp().String() != tc.want || len(a.GetCsafDocument()) == 0 || a.GetTitle() != "Pump" {
			t.Errorf("%s --tlp %q: %v %v, want %s", filepath.Base(tc.file), tc.tlp, a, err, tc.want)
		}
	}
	if a, err := (&advisoryFlags{file: green, lane: "urgent"}).build(); err != nil || a.GetBody() != "patch" {
		t.Errorf("the body of a CSAF advisory: %q %v, want its summary note", a.GetBody(), err)
	}
	a, err := (&advisoryFlags{file: bundle, tlp: "green", title: "x", lane: "urgent"}).build()
	if err != nil || len(a.GetStixBundle()) == 0 || len(a.GetCsafDocument()) != 0 {
		t.Errorf("a STIX bundle: %v %v, want it sent as a bundle", a, err)
	}
}
