package affected

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRanges(t *testing.T) {
	cases := []struct {
		text, version string
		in            bool
	}{
		{"< 8.2.2", "8.2.1", true}, {"< 8.2.2", "8.2.2", false}, {"<= 12.2.x.x", "12.2.5.1", true}, {"<= 12.2.x.x", "12.3", false},
		{">= 4.01 | <= 4.34", "4.20", true}, {">= 4.01 | <= 4.34", "4.35", false}, {">= 4.01 | <= 4.34", "3.9", false},
		{"3.0|3.1", "3.1", true}, {"3.0|3.1", "3.2", false}, {"vers:all/*", "anything", true}, {"vers:generic/>=1.0|<2.0", "1.5", true},
		{"vers:generic/>=1.0|<2.0", "2.0", false}, {"<12.2.8.410", "12.2.8.409", true}, {"< B.06.18", "B.06.17", true}, {"<= 2.4A", "2.4", true},
		{"< 3.x", "2.9", true}, {"< 3.x", "3.5", false}, {"<=v20D32", "20D31", true}, {"All versions", "1", true},
	}
	for _, c := range cases {
		r, err := ParseRange(c.text)
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		if in, ok := r.Contains(c.version); !ok || in != c.in {
			t.Errorf("%q contains %q: %v (ok %v), want %v", c.text, c.version, in, ok, c.in)
		}
	}
	for _, bad := range []string{"<  july 1 2017", "< august 28", "<8/30/2024 x", "<= 1.54 (integrated into GE MobileLink)", "vers:generic"} {
		if _, err := ParseRange(bad); !errors.Is(err, ErrRange) {
			t.Errorf("%q: %v, want ErrRange", bad, err)
		}
	}
}

func TestInventoryFormats(t *testing.T) {
	inv, err := Load("testdata/devices.csv", "testdata/sbom.cdx.json", "testdata/sbom.spdx.json")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Row{}
	for _, r := range inv.Rows {
		got[r.Product] = r
	}
	if r := got["Inductive models EX1100"]; r.Vendor != "Abbott" || r.Location != "Cardiology clinic room 4" || r.Serial != "SJM-0001" || r.Source != "devices.csv:2" {
		t.Errorf("the CSV row: %+v", r)
	}
	if r := got["openssl"]; r.PURL != "pkg:generic/openssl@1.1.1k" || r.Vendor != "OpenSSL" {
		t.Errorf("the CycloneDX component: %+v", r)
	}
	if r := got["Monitor 3"]; r.Vendor != "Acme Devices" || r.Version != "2.0" {
		t.Errorf("the CycloneDX metadata component: %+v", r)
	}
	if r := got["zlib"]; r.PURL != "pkg:generic/zlib@1.2.11" || r.Version != "1.2.11" || !strings.Contains(r.Vendor, "zlib") {
		t.Errorf("the SPDX package: %+v", r)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	_ = os.WriteFile(bad, []byte("maker,product\nX,Y\n"), 0o600)
	if _, err := Load(bad); !errors.Is(err, ErrInventory) || !strings.Contains(err.Error(), `no "vendor" column`) {
		t.Errorf("a CSV without vendor: %v", err)
	}
}

func TestAnAdvisoryMatchesTheDevicesItNames(t *testing.T) {
	inv, err := Load("testdata/devices.csv")
	if err != nil {
		t.Fatal(err)
	}
	m := New(inv)
	doc, err := os.ReadFile("/work/shared/csaf/cisa-icsma/icsma-17-009-01a.json")
	if err != nil {
		doc, err = os.ReadFile("../../shared/csaf/cisa-icsma/icsma-17-009-01a.json")
	}
	if err != nil {
		t.Skip("../shared/csaf is not beside the checkout")
	}
	fs, err := m.Match(doc)
	if err != nil {
		t.Fatal(err)
	}
	// Abbott's EX1100 at 8.2.1 (St. Jude Medical, renamed) is affected,
	// and may be the MerlinOnDemand variant the advisory names apart; the
	// EX1150 at 8.2.2 is fixed by the version.
	if len(fs) != 2 || fs[0].Row.Serial != "SJM-0001" || fs[0].Status != KnownAffected || fs[0].ProductID != "CSAFPID-0001" ||
		fs[1].ProductID != "CSAFPID-0002" || fs[1].Status != PossiblyAffected || !strings.Contains(fs[1].Reason, "more precise") {
		t.Fatalf("findings: %+v", fs)
	}
	f := fs[0]
	if f.Score != 8.9 || len(f.CVEs) == 0 || len(f.Remediations) == 0 || f.Row.Location != "Cardiology clinic room 4" {
		t.Errorf("the finding lacks what the analyst needs: %+v", f)
	}
}

func TestVEXNotAffectedDoesNotMatch(t *testing.T) {
	inv, err := Load("testdata/devices.csv")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(csafDir(t), "csaf_2.0/examples/csaf/csaf_vex/2022-evd-uc-01-na-001.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := New(inv).Match(doc); err != nil || len(fs) != 0 {
		t.Fatalf("a known_not_affected product matched: %+v %v", fs, err)
	}
	// The same document with the product known_affected matches the row.
	var d map[string]any
	_ = json.Unmarshal(doc, &d)
	d["vulnerabilities"].([]any)[0].(map[string]any)["product_status"] = map[string]any{"known_affected": []string{"CSAFPID-0001"}}
	flipped, _ := json.Marshal(d)
	if fs, _ := New(inv).Match(flipped); len(fs) != 1 || fs[0].Row.Product != "ABC" {
		t.Fatalf("known_affected did not match: %+v", fs)
	}
}

// csafDir is ../shared/csaf beside the checkout.
func csafDir(t testing.TB) string {
	for _, d := range []string{"../../shared/csaf", "/work/shared/csaf"} {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	t.Skip("../shared/csaf is not beside the checkout")
	return ""
}

// TestNoICSMAProductIsSilentlyMissed: for each of CISA's 134 advisories,
// an inventory naming every affected product's vendor and name, without
// a version, matches every one of them: known_affected where the advisory
// names no version, possibly_affected (with the reason) where it does.
// Every range published in them either reads or makes its rows possibly
// affected.
func TestNoICSMAProductIsSilentlyMissed(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(csafDir(t), "cisa-icsma", "*.json"))
	if len(files) != 134 {
		t.Fatalf("%d ICSMA documents, want 134", len(files))
	}
	var ranges, unread, products int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := decodeDocument(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		affected := map[string]bool{}
		for _, v := range d.Vulnerabilities {
			for _, id := range v.ProductStatus["known_affected"] {
				affected[id] = true
			}
		}
		inv := &Inventory{}
		want := map[string]bool{}
		for _, c := range d.candidates() {
			if c.Range != nil || c.RangeErr != nil {
				ranges++
			}
			if c.RangeErr != nil {
				unread++
			}
			if affected[c.ID] {
				inv.Rows = append(inv.Rows, Row{Vendor: c.Vendor, Product: c.Name, Source: c.ID})
				want[c.ID] = true
			}
		}
		fs, err := New(inv).Match(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got := map[string]bool{}
		for _, x := range fs {
			got[x.ProductID] = true
			if x.Status == PossiblyAffected && x.Reason == "" {
				t.Errorf("%s: %s is possibly affected without a reason", filepath.Base(f), x.ProductID)
			}
		}
		for id := range want {
			products++
			if !got[id] {
				t.Errorf("%s: affected product %s was silently missed", filepath.Base(f), id)
			}
		}
	}
	t.Logf("134 documents: %d affected products, %d version ranges, %d of them not understood (rows marked possibly_affected)", products, ranges, unread)
}

func TestLoadAliases(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "aliases.yaml")
	_ = os.WriteFile(good, []byte("- vendor: Zyx Relabel\n  as_vendor: Zyxorbian Medical\n  as_product: Qwelltron\n"), 0o600)
	a, err := LoadAliases(good)
	if err != nil || len(a) != 1 || a[0].AsVendor != "Zyxorbian Medical" || a[0].AsProduct != "Qwelltron" {
		t.Fatalf("LoadAliases: %+v, %v", a, err)
	}
	for body, want := range map[string]string{"- vendor: X\n": "needs vendor and as_vendor", "- vendor: X\n  as_vendr: Y\n": "as_vendr"} {
		bad := filepath.Join(dir, "bad.yaml")
		_ = os.WriteFile(bad, []byte(body), 0o600)
		if _, err := LoadAliases(bad); !errors.Is(err, ErrInventory) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
