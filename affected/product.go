package affected

import (
	"encoding/json"
	"fmt"
)

// document is what matching reads of a CSAF 2.0 document.
type document struct {
	Document struct {
		Title    string `json:"title"`
		Tracking struct {
			ID string `json:"id"`
		} `json:"tracking"`
	} `json:"document"`
	ProductTree struct {
		Branches         []branch  `json:"branches"`
		FullProductNames []product `json:"full_product_names"`
	} `json:"product_tree"`
	Vulnerabilities []vulnerability `json:"vulnerabilities"`
}

type branch struct {
	Category string   `json:"category"`
	Name     string   `json:"name"`
	Product  *product `json:"product"`
	Branches []branch `json:"branches"`
}

type product struct {
	Name   string `json:"name"`
	ID     string `json:"product_id"`
	Helper *struct {
		CPE  string `json:"cpe"`
		PURL string `json:"purl"`
	} `json:"product_identification_helper"`
}

type vulnerability struct {
	CVE           string              `json:"cve"`
	ProductStatus map[string][]string `json:"product_status"`
	Remediations  []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		URL        string   `json:"url"`
		ProductIDs []string `json:"product_ids"`
	} `json:"remediations"`
	Scores []struct {
		CVSS3 *struct {
			BaseScore    float64 `json:"baseScore"`
			BaseSeverity string  `json:"baseSeverity"`
			Vector       string  `json:"vectorString"`
		} `json:"cvss_v3"`
		Products []string `json:"products"`
	} `json:"scores"`
	Flags []struct {
		Label      string   `json:"label"`
		ProductIDs []string `json:"product_ids"`
	} `json:"flags"`
	Threats []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		ProductIDs []string `json:"product_ids"`
	} `json:"threats"`
}

// candidate is one product of the tree as matching sees it: who makes
// it, its name, and either one version or a range.
type candidate struct {
	ID, FullName  string
	Vendor, Name  string
	Version       string // product_version
	Range         *Range // product_version_range, read
	RangeErr      error  // the range as published could not be read
	CPE, PURL     string
	versionedTree bool // the tree named a version or range
}

// candidates flattens the product tree: each product with the vendor,
// product name and version (or range) of the branches above it.
func (d *document) candidates() []candidate {
	var out []candidate
	var walk func(bs []branch, c candidate)
	walk = func(bs []branch, c candidate) {
		for _, b := range bs {
			n := c
			switch b.Category {
			case "vendor":
				n.Vendor = b.Name
			case "product_name", "product_family":
				if n.Name == "" || b.Category == "product_name" {
					n.Name = b.Name
				}
			case "product_version":
				n.Version, n.versionedTree = b.Name, true
			case "product_version_range":
				n.versionedTree = true
				if r, err := ParseRange(b.Name); err != nil {
					n.RangeErr = err
				} else {
					n.Range = &r
				}
			}
			if p := b.Product; p != nil {
				n.ID, n.FullName = p.ID, p.Name
				if p.Helper != nil {
					n.CPE, n.PURL = p.Helper.CPE, p.Helper.PURL
				}
				out = append(out, n)
			}
			walk(b.Branches, n)
		}
	}
	walk(d.ProductTree.Branches, candidate{})
	for _, p := range d.ProductTree.FullProductNames {
		c := candidate{ID: p.ID, FullName: p.Name, Name: p.Name}
		if p.Helper != nil {
			c.CPE, c.PURL = p.Helper.CPE, p.Helper.PURL
		}
		out = append(out, c)
	}
	return out
}

func decodeDocument(data []byte) (*document, error) {
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("affected: the CSAF document does not decode: %w", err)
	}
	return &d, nil
}
