package affected

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
)

// ErrInventory is wrapped by every problem reading an inventory.
var ErrInventory = errors.New("bad inventory")

// Row is one thing the member runs: a device (CSV) or a component (SBOM).
type Row struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	Version string `json:"version,omitempty"`
	// Location and Owner say where it is and who answers for it (CSV).
	Location string `json:"location,omitempty"`
	Owner    string `json:"owner,omitempty"`
	// CPE, PURL and Serial identify it exactly when known.
	CPE    string `json:"cpe,omitempty"`
	PURL   string `json:"purl,omitempty"`
	Serial string `json:"serial,omitempty"`
	// Source is the file and line (CSV) or component reference it came
	// from.
	Source string `json:"source"`
}

// Inventory is every row of the member's inventory files.
type Inventory struct {
	Rows []Row
}

// Load reads the inventory files: CSV (by the .csv extension), CycloneDX
// JSON (bomFormat "CycloneDX") or SPDX 2.3 JSON (spdxVersion).
func Load(paths ...string) (*Inventory, error) {
	inv := &Inventory{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInventory, err)
		}
		rows, err := parse(filepath.Base(p), data)
		if err != nil {
			return nil, err
		}
		inv.Rows = append(inv.Rows, rows...)
	}
	return inv, nil
}

func parse(name string, data []byte) ([]Row, error) {
	if strings.EqualFold(filepath.Ext(name), ".csv") {
		return parseCSV(name, bytes.NewReader(data))
	}
	var probe struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %s: neither CSV (name it .csv) nor JSON: %v", ErrInventory, name, err)
	}
	switch {
	case probe.BOMFormat == "CycloneDX":
		return parseCycloneDX(name, data)
	case strings.HasPrefix(probe.SPDXVersion, "SPDX-2."):
		return parseSPDX(name, data)
	}
	return nil, fmt.Errorf("%w: %s: a JSON file that is neither a CycloneDX SBOM (bomFormat) nor SPDX 2.3 (spdxVersion)", ErrInventory, name)
}

// csvColumns are the CSV's columns; the first five are required, in any
// order, named by the header row.
var csvColumns = []string{"vendor", "product", "version", "location", "owner", "cpe", "purl", "serial"}

func parseCSV(name string, r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInventory, name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, c := range csvColumns[:5] {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%w: %s: the header has no %q column; want %s (and optionally cpe, purl, serial)", ErrInventory, name, c, strings.Join(csvColumns[:5], ","))
		}
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInventory, name, err)
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		row := Row{Vendor: get("vendor"), Product: get("product"), Version: get("version"), Location: get("location"), Owner: get("owner"),
			CPE: get("cpe"), PURL: get("purl"), Serial: get("serial"), Source: fmt.Sprintf("%s:%d", name, line)}
		if row.Product == "" && row.PURL == "" && row.CPE == "" {
			return nil, fmt.Errorf("%w: %s:%d: a row needs a product (or a purl or cpe)", ErrInventory, name, line)
		}
		rows = append(rows, row)
	}
}

func parseCycloneDX(name string, data []byte) ([]Row, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("%w: %s: CycloneDX: %v", ErrInventory, name, err)
	}
	var rows []Row
	var walk func(cs *[]cdx.Component, vendor string)
	walk = func(cs *[]cdx.Component, vendor string) {
		if cs == nil {
			return
		}
		for _, c := range *cs {
			v := vendor
			switch {
			case c.Manufacturer != nil && c.Manufacturer.Name != "":
				v = c.Manufacturer.Name
			case c.Supplier != nil && c.Supplier.Name != "":
				v = c.Supplier.Name
			case c.Publisher != "":
				v = c.Publisher
			case c.Group != "":
				v = c.Group
			}
			rows = append(rows, Row{Vendor: v, Product: c.Name, Version: c.Version, CPE: c.CPE, PURL: c.PackageURL, Source: name + "#" + c.BOMRef})
			walk(c.Components, v)
		}
	}
	vendor := ""
	if m := bom.Metadata; m != nil && m.Component != nil {
		c := *m.Component
		if c.Manufacturer != nil {
			vendor = c.Manufacturer.Name
		} else if c.Supplier != nil {
			vendor = c.Supplier.Name
		}
		walk(&[]cdx.Component{c}, vendor)
	}
	walk(bom.Components, vendor)
	return rows, nil
}

func parseSPDX(name string, data []byte) ([]Row, error) {
	doc, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: SPDX: %v", ErrInventory, name, err)
	}
	var rows []Row
	for _, p := range doc.Packages {
		r := Row{Product: p.PackageName, Version: p.PackageVersion, Source: name + "#" + string(p.PackageSPDXIdentifier)}
		if s := p.PackageSupplier; s != nil && s.Supplier != "NOASSERTION" {
			r.Vendor = s.Supplier
		} else if o := p.PackageOriginator; o != nil && o.Originator != "NOASSERTION" {
			r.Vendor = o.Originator
		}
		for _, ref := range p.PackageExternalReferences {
			switch strings.ToLower(ref.RefType) {
			case "purl":
				r.PURL = ref.Locator
			case "cpe23type", "cpe22type":
				r.CPE = ref.Locator
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}
